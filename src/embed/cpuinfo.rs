//! What CPU this is and which kernels run on it, for benchmarks and `embed -v`: figures
//! from different machines must be told apart.

use super::kernels::KernelPath;

/// The instruction sets reported, in this order.
const FLAGS: [&str; 5] = ["avx2", "fma", "avx512f", "avx512_vnni", "neon"];

/// Three lines: the CPU model (with x86's family and model numbers), the logical CPUs
/// and the physical cores they sit on, which of avx2 / fma / avx512f /
/// avx512_vnni / neon it has, and the kernel path the CPU encoder takes (honouring
/// `PAPERSCOUT_KERNEL`). The model and topology come from `/proc/cpuinfo` and sysfs
/// where there are some; the instruction sets from the run-time checks the kernels
/// choose by (on x86, CPUID and the registers the OS saves), never from
/// `/proc/cpuinfo`'s flags, which can disagree: under an emulator they are the host's,
/// and a kernel booted with `clearcpuid=` hides flags that CPUID still reports.
pub fn cpu_report() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |names: &[&str]| -> Option<String> {
        info.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            names
                .contains(&key.trim())
                .then(|| value.trim().to_string())
        })
    };
    let model = field(&["model name", "Model", "cpu model", "Hardware"])
        .or_else(|| {
            // aarch64 Linux: implementer and part numbers only.
            let imp = field(&["CPU implementer"])?;
            let part = field(&["CPU part"])?;
            Some(format!("implementer {imp} part {part}"))
        })
        .unwrap_or_else(|| "unknown".to_string());
    let (present, absent): (Vec<&str>, Vec<&str>) = FLAGS.iter().partition(|f| detected(f));
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    // x86 family and model numbers tell CPU generations apart where the model name does
    // not (a KVM guest's "AMD EPYC" or "Intel Xeon Processor").
    let generation = match (field(&["cpu family"]), field(&["model"])) {
        (Some(family), Some(model)) => format!("family {family} model {model}; "),
        _ => String::new(),
    };
    let path = match KernelPath::select() {
        Ok(p) => format!(
            "{}; element-wise: {}; linear layers: {}",
            p.describe(),
            super::kernels::element_wise_variant(),
            match super::kernels::Precision::select() {
                Ok(super::kernels::Precision::Int8) => format!("int8 ({})", p.q8().name()),
                Ok(precision) => precision.name().to_string(),
                Err(e) => format!("none ({e})"),
            }
        ),
        Err(e) => format!("none ({e})"),
    };
    format!(
        "cpu: {model} ({generation}{threads} logical CPUs{}, {})\nflags: {} (absent: {})\nkernel path: {path}",
        match physical_cores() {
            Some((online, cores)) if online == threads => format!(" on {cores} cores"),
            Some((online, cores)) => format!(" of the machine's {online} on {cores} cores"),
            None => String::new(),
        },
        std::env::consts::ARCH,
        if present.is_empty() {
            "none".to_string()
        } else {
            present.join(" ")
        },
        if absent.is_empty() {
            "none".to_string()
        } else {
            absent.join(" ")
        },
    )
}

/// The machine's online logical CPUs and how many physical cores they sit on (Linux
/// sysfs): two logical CPUs on one core share its multiply-add units, which halves what
/// each can do, so a figure means something else there. `None` where sysfs does not say.
fn physical_cores() -> Option<(usize, usize)> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    let (mut cores, mut cpus) = (std::collections::BTreeSet::new(), 0);
    for range in online.trim().split(',') {
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let one = range.parse::<usize>().ok()?;
                (one, one)
            }
        };
        for cpu in first..=last {
            let siblings = std::fs::read_to_string(format!(
                "/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list"
            ))
            .ok()?;
            cores.insert(siblings.trim().to_string());
            cpus += 1;
        }
    }
    (!cores.is_empty()).then_some((cpus, cores.len()))
}

/// The run-time check the kernels use for `flag` (one of [`FLAGS`]): NEON is part of
/// every aarch64 CPU, and absent elsewhere.
fn detected(flag: &str) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match flag {
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512_vnni" => std::is_x86_feature_detected!("avx512vnni"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        flag == "neon" && cfg!(target_arch = "aarch64")
    }
}
