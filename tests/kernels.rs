//! The matrix-product kernel paths (issue 14): each path this CPU runs against a naive
//! product on shapes with edge tiles, and the real model on each path against the
//! golden sentence-transformers vectors. A path this CPU cannot run is printed as not
//! tested and is not counted as passed.

use std::time::Instant;

use candle_core::Device;
use paperscout::embed::kernels::{self, KernelPath, Precision, Weight};
use paperscout::embed::{cpu_report, Embedder, Engine, ModelFiles};
use paperscout::job::TextEmbedder;

use crate::common::{self, cosine, Tiny};

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// The paths this CPU runs; a line for each one it does not.
fn runnable_paths(what: &str) -> Vec<KernelPath> {
    let mut run = Vec::new();
    for path in KernelPath::ALL {
        match path.check() {
            Ok(()) => run.push(path),
            Err(why) => println!(
                "kernel path {}: not tested on this CPU ({why}) [{what}]",
                path.name()
            ),
        }
    }
    run
}

#[test]
fn every_kernel_path_matches_a_naive_product_on_odd_shapes() {
    // Shapes that leave partial tiles in rows and columns (tiles are 12×32 for our
    // kernels), k split into several passes (> 320), and the real model's shapes.
    let shapes = [
        (1, 1, 1),
        (1, 33, 7),
        (13, 31, 5),
        (12, 32, 16),
        (25, 65, 321),
        (149, 40, 700),
        (7, 96, 384),
        (29, 1152, 384),
        (17, 384, 1536),
        (37, 32, 333),
        (24, 20, 9),
    ];
    let paths = runnable_paths("naive product");
    assert!(
        paths.contains(&KernelPath::Portable),
        "portable always runs"
    );
    for &path in &paths {
        for &(m, n, k) in &shapes {
            let (a_rs, dst_rs) = (k + 3, n + 5);
            let a = values(m * a_rs, 1 + m as u64);
            // A Linear weight: row-major [n×k], read transposed.
            let w = values(n * k, 2 + n as u64);
            let mut want = vec![0.0f64; m * n];
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] = (0..k)
                        .map(|p| a[i * a_rs + p] as f64 * w[j * k + p] as f64)
                        .sum();
                }
            }
            let tol = 2e-6 * k as f64 + 1e-6;
            // The same matrix as row-major [k×n] with padded rows (b_cs = 1).
            let b_rs = n + 2;
            let mut b = vec![9.0f32; k * b_rs];
            for p in 0..k {
                for j in 0..n {
                    b[p * b_rs + j] = w[j * k + p];
                }
            }
            let init = values(m * dst_rs, 3);
            for accumulate in [false, true] {
                let mut d1 = init.clone();
                kernels::matmul_on(
                    path, m, n, k, &mut d1, dst_rs, accumulate, &a, a_rs, &w, 1, k, 0.5,
                );
                let mut d2 = init.clone();
                kernels::matmul_on(
                    path, m, n, k, &mut d2, dst_rs, accumulate, &a, a_rs, &b, b_rs, 1, 0.5,
                );
                for i in 0..m {
                    for j in 0..dst_rs {
                        let at = i * dst_rs + j;
                        let expect = if j >= n {
                            init[at] as f64 // past the product's columns: untouched
                        } else {
                            (if accumulate { init[at] as f64 } else { 0.0 }) + 0.5 * want[i * n + j]
                        };
                        for (name, d) in [("transposed", &d1), ("row-major", &d2)] {
                            assert!(
                                (d[at] as f64 - expect).abs() < tol,
                                "{} {name} {m}x{n}x{k} accumulate={accumulate} at ({i},{j}): {} vs {expect}",
                                path.name(),
                                d[at]
                            );
                        }
                    }
                }
            }
            // The prepacked weight (dst rows exactly n apart, always accumulating).
            let a_dense: Vec<f32> = (0..m)
                .flat_map(|i| a[i * a_rs..i * a_rs + k].to_vec())
                .collect();
            let weight = Weight::new(w.clone(), k, n);
            let mut d3 = vec![1.0f32; m * n];
            weight.accumulate(path, &mut d3, &a_dense, m);
            for (at, (&got, &dot)) in d3.iter().zip(&want).enumerate() {
                assert!(
                    (got as f64 - (1.0 + dot)).abs() < tol,
                    "{} prepacked {m}x{n}x{k} at {at}: {got} vs {}",
                    path.name(),
                    1.0 + dot
                );
            }
        }
        println!("kernel path {}: matches the naive product", path.name());
    }
}

/// One head's attention on every path this CPU runs, for text lengths below, at and
/// past a block of query rows (48) and a k pass (384): against the two whole products
/// with softmax between them, to the bit (the blocked form sums the same terms in the
/// same order), and against attention in f64.
#[test]
fn every_kernel_path_computes_one_heads_attention() {
    let (h, d) = (64, 32); // two heads of 32; the second one is taken
    let ld = 3 * h;
    for path in runnable_paths("attention") {
        let mut scratch = kernels::AttentionScratch::new();
        for l in [1, 5, 47, 48, 49, 97, 240, 400] {
            let qkv = values(l * ld, l as u64);
            let (q, k, v) = (&qkv[d..], &qkv[h + d..], &qkv[2 * h + d..]);
            let scale = 1.0 / (d as f32).sqrt();
            // Output rows h apart, the second head's columns; the rest must stay.
            let fill = values(l * h, 99);
            let mut got = fill.clone();
            let mut scores = vec![0f32; l * l];
            kernels::attention_head(
                path,
                l,
                d,
                q,
                k,
                v,
                ld,
                &mut got[d..],
                h,
                scale,
                &mut scores,
                &mut scratch,
            );
            let mut whole = fill.clone();
            let mut s = vec![0f32; l * l];
            kernels::matmul_on(path, l, l, d, &mut s, l, false, q, ld, k, 1, ld, scale);
            kernels::softmax_rows(&mut s, l);
            kernels::matmul_on(
                path,
                l,
                d,
                l,
                &mut whole[d..],
                h,
                false,
                &s,
                l,
                v,
                ld,
                1,
                1.0,
            );
            for (at, (x, y)) in got.iter().zip(&whole).enumerate() {
                assert_eq!(
                    x.to_bits(),
                    y.to_bits(),
                    "{} l={l} at {at}: blocked {x} vs whole products {y}",
                    path.name()
                );
            }
            for i in 0..l {
                let dots: Vec<f64> = (0..l)
                    .map(|j| {
                        (0..d)
                            .map(|p| q[i * ld + p] as f64 * k[j * ld + p] as f64)
                            .sum::<f64>()
                            * scale as f64
                    })
                    .collect();
                let max = dots.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = dots.iter().map(|x| (x - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                for c in 0..h {
                    let at = i * h + c;
                    let want = if (d..2 * d).contains(&c) {
                        (0..l).map(|j| e[j] / sum * v[j * ld + c - d] as f64).sum()
                    } else {
                        fill[at] as f64
                    };
                    assert!(
                        (got[at] as f64 - want).abs() < 1e-5,
                        "{} l={l} row {i} column {c}: {} vs {want}",
                        path.name(),
                        got[at]
                    );
                }
            }
        }
        println!("kernel path {}: attention matches", path.name());
    }
}

#[test]
fn every_kernel_path_equals_candle_on_a_tiny_model() {
    // hidden 32, 4 heads of 8, intermediate 64: every product is an edge tile.
    let (_tmp, dir) = common::tiny_model(&Tiny {
        seed: 5,
        ..Tiny::default()
    });
    let files = ModelFiles::from_dir(&dir).unwrap();
    let texts = [
        "the",
        "",
        "we propose a new graph neural network",
        "the results show a new deep learning method of the paper and the data set of the robot policy",
    ];
    let stock = Embedder::load_with_engine(&files, &Device::Cpu, Engine::Candle)
        .unwrap()
        .embed(&texts)
        .unwrap();
    for path in runnable_paths("tiny model") {
        let e = Embedder::load_with_kernel(&files, path).unwrap();
        assert_eq!(e.kernel_path(), Some(path));
        let got = e.embed(&texts).unwrap();
        for (i, (a, b)) in got.iter().zip(&stock).enumerate() {
            let c = cosine(a, b);
            assert!(c > 0.99999, "{} text {i}: cosine {c}", path.name());
        }
        println!(
            "kernel path {}: equals Candle on the tiny model",
            path.name()
        );
    }
}

/// The AVX2 and AVX-512 kernels run the same fused multiply-adds in the same order (one
/// per k, from zero, then `scale · sum + c`), so where a CPU runs both, a layer, one
/// head's attention and the whole encoder give the same bits on either path.
#[test]
fn the_avx2_and_avx512_paths_give_the_same_bits() {
    let (x2, x5) = (KernelPath::Avx2, KernelPath::Avx512);
    for p in [x2, x5] {
        if let Err(why) = p.check() {
            println!("avx2 against avx512: not tested on this CPU ({why})");
            return;
        }
    }
    let same = |x: &[f32], y: &[f32], what: &str| {
        assert_eq!(x.len(), y.len(), "{what}");
        if let Some(at) = (0..x.len()).find(|&i| x[i].to_bits() != y[i].to_bits()) {
            panic!("{what} at {at}: avx2 {} vs avx512 {}", x[at], y[at]);
        }
    };
    for (m, n, k) in [
        (1, 1, 1),
        (13, 31, 5),
        (29, 1152, 384),
        (37, 384, 1536),
        (50, 65, 700),
    ] {
        let a = values(m * k, 7);
        let weight = Weight::new(values(n * k, 8), k, n);
        let bias = values(n, 9);
        let run = |path| {
            let mut out = vec![0f32; m * n];
            weight.linear(path, &mut out, &a, &bias, m);
            out
        };
        same(&run(x2), &run(x5), &format!("linear {m}x{n}x{k}"));
    }
    let (h, d) = (64, 32);
    for l in [5, 49, 240] {
        let qkv = values(l * 3 * h, l as u64);
        let run = |path| {
            let mut out = vec![0f32; l * h];
            let mut scores = vec![0f32; l * l];
            kernels::attention_head(
                path,
                l,
                d,
                &qkv[d..],
                &qkv[h + d..],
                &qkv[2 * h + d..],
                3 * h,
                &mut out[d..],
                h,
                0.25,
                &mut scores,
                &mut kernels::AttentionScratch::new(),
            );
            out
        };
        same(&run(x2), &run(x5), &format!("attention l={l}"));
    }
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let files = ModelFiles::from_dir(&dir).unwrap();
    let texts = [
        "",
        "the",
        "we propose a new graph neural network for the robot",
    ];
    let embed = |path| {
        let e = Embedder::load_with_kernel(&files, path).unwrap();
        e.embed(&texts).unwrap().concat()
    };
    same(&embed(x2), &embed(x5), "tiny model");
    println!("avx2 against avx512: the same bits");
}

#[derive(serde::Deserialize)]
struct Golden {
    id: String,
    text: String,
    embedding: Vec<f32>,
}

/// The golden rows the model tests embed: the empty row, the longest (truncated) row
/// and a spread of others, in one batch.
fn golden_rows() -> Vec<Golden> {
    let path = common::fixture("golden/minilm-golden.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<Golden> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let longest = rows.iter().map(|r| r.text.len()).max().unwrap();
    let picked: Vec<Golden> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, r)| i % 9 == 0 || r.text.is_empty() || r.text.len() == longest)
        .map(|(_, r)| r)
        .collect();
    assert!(picked.len() >= 6 && picked.iter().any(|r| r.text.is_empty()));
    picked
}

/// The real model on every path this CPU runs against sentence-transformers' vectors.
#[test]
fn every_kernel_path_matches_the_golden_vectors() {
    let picked = golden_rows();
    let texts: Vec<&str> = picked.iter().map(|r| r.text.as_str()).collect();
    let files = ModelFiles::from_dir(&common::real_model_dir()).unwrap();
    for kernel in runnable_paths("golden vectors") {
        let e = Embedder::load_with_kernel(&files, kernel).unwrap();
        assert_eq!(e.precision(), Some(Precision::F32));
        let vectors = e.embed(&texts).unwrap();
        for (row, v) in picked.iter().zip(&vectors) {
            let c = cosine(v, &row.embedding);
            assert!(
                c > 0.9999,
                "kernel path {}: golden row {} cosine {c}",
                kernel.name(),
                row.id
            );
        }
        println!(
            "kernel path {}: {} golden rows match (cosine > 0.9999)",
            kernel.name(),
            picked.len()
        );
    }
}

/// int8 `Linear` layers on every path this CPU runs (each path's int8 kernel: VNNI,
/// AVX2 or plain), the real model against sentence-transformers' vectors to int8's
/// own bound: cosine > 0.99 for every row (the 27,085 abstracts of the corpus measure
/// ≥ 0.9974 against the reference vectors) and > 0.995 on average; and not f32's
/// vectors, so the precision did take effect.
#[test]
fn int8_linear_layers_stay_near_the_golden_vectors_on_every_path() {
    let picked = golden_rows();
    let texts: Vec<&str> = picked.iter().map(|r| r.text.as_str()).collect();
    let files = ModelFiles::from_dir(&common::real_model_dir()).unwrap();
    for kernel in runnable_paths("int8 golden vectors") {
        let e = Embedder::load_with_precision(&files, kernel, Precision::Int8).unwrap();
        assert_eq!(e.precision(), Some(Precision::Int8));
        // A checkpoint knows the precision, so a run is never resumed in the other.
        assert!(TextEmbedder::model_name(&e).ends_with(" (int8)"));
        let vectors = e.embed(&texts).unwrap();
        let f32_vectors = Embedder::load_with_kernel(&files, kernel)
            .unwrap()
            .embed(&texts)
            .unwrap();
        let mut sum = 0.0;
        for ((row, v), f) in picked.iter().zip(&vectors).zip(&f32_vectors) {
            let c = cosine(v, &row.embedding);
            assert!(
                c > 0.99,
                "int8 on {} ({}): golden row {} cosine {c}",
                kernel.name(),
                kernel.q8().name(),
                row.id
            );
            sum += c;
            if !row.text.is_empty() {
                assert_ne!(v, f, "int8 on {}: row {} equals f32", kernel.name(), row.id);
            }
        }
        let mean = sum / picked.len() as f32;
        assert!(
            mean > 0.995,
            "int8 on {}: mean cosine {mean}",
            kernel.name()
        );
        println!(
            "int8 on kernel path {} ({} kernel): {} golden rows, mean cosine {mean:.5}",
            kernel.name(),
            kernel.q8().name(),
            picked.len()
        );
    }
}

/// `PAPERSCOUT_PRECISION` is parsed strictly: anything but f32 / int8 is refused with
/// the variable named, and the CPU report says which precision the layers run in.
#[test]
fn the_precision_is_chosen_by_name_and_reported() {
    assert_eq!("INT8".parse::<Precision>(), Ok(Precision::Int8));
    assert_eq!(" f32 ".parse::<Precision>(), Ok(Precision::F32));
    assert!("int4".parse::<Precision>().is_err());
    let model = common::real_model_dir();
    let run = |precision: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_paperscout"))
            .arg("-v")
            .arg("--model")
            .arg(&model)
            .args(["embed", "--input", "/dev/null"])
            .env("PAPERSCOUT_PRECISION", precision)
            .output()
            .unwrap()
    };
    let bad = run("int16");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "int16 accepted: {stderr}");
    assert!(
        stderr.contains("PAPERSCOUT_PRECISION=int16") && stderr.contains("expected f32 or int8"),
        "{stderr}"
    );
    let good = run("int8");
    let stderr = String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("kernel path: "))
        .unwrap_or_else(|| panic!("no kernel path line: {stderr}"));
    assert!(
        line.ends_with(&format!(
            "linear layers: int8 ({})",
            KernelPath::best().q8().name()
        )),
        "{line}"
    );
}

#[test]
fn cpu_report_names_the_cpu_and_the_path() {
    let report = cpu_report();
    assert!(report.contains("cpu: "), "{report}");
    assert!(report.contains("kernel path: "), "{report}");
    assert!(
        report.contains(KernelPath::best().name()),
        "the best path is named: {report}"
    );
    // Generation and topology, where the machine tells them: x86's family and model
    // numbers, and the physical cores the logical CPUs sit on.
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if cpuinfo.lines().any(|l| l.starts_with("cpu family")) {
        assert!(report.contains("family "), "{report}");
    }
    if std::path::Path::new("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list").exists() {
        assert!(report.contains(" cores"), "{report}");
    }
    // The instruction sets listed are those the kernels are chosen by, not
    // /proc/cpuinfo's flags (under an emulator those are the host's:
    // scripts/check-x86-cpus.sh runs this test on emulated CPUs).
    #[cfg(target_arch = "x86_64")]
    {
        let flags = report
            .lines()
            .find_map(|l| l.strip_prefix("flags: "))
            .unwrap_or_else(|| panic!("no flags line: {report}"));
        let listed: Vec<&str> = flags.split(" (absent").next().unwrap().split(' ').collect();
        for (flag, has) in [
            ("avx2", std::is_x86_feature_detected!("avx2")),
            ("fma", std::is_x86_feature_detected!("fma")),
            ("avx512f", std::is_x86_feature_detected!("avx512f")),
            ("avx512_vnni", std::is_x86_feature_detected!("avx512vnni")),
        ] {
            assert_eq!(listed.contains(&flag), has, "{flag}: {report}");
        }
    }
}

/// `PAPERSCOUT_KERNEL=avx2` holds the element-wise kernels to AVX2 as well, so a forced
/// path measures what an AVX2-only CPU runs; `-v embed` says which variant runs (it
/// prints the report before loading the model, so a missing model is fine here).
#[test]
fn a_forced_kernel_path_caps_the_element_wise_kernels_too() {
    let tmp = tempfile::tempdir().unwrap();
    let report = |kernel: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_paperscout"))
            .args([
                "-v",
                "--model",
                "nobody/no-such-model",
                "embed",
                "--input",
                "/dev/null",
            ])
            .env("PAPERSCOUT_KERNEL", kernel)
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        stderr
            .lines()
            .find(|l| l.starts_with("kernel path: "))
            .unwrap_or_else(|| panic!("no kernel path line: {stderr}"))
            .to_string()
    };
    let portable = report("portable");
    assert!(portable.contains("element-wise: portable"), "{portable}");
    if KernelPath::Avx2.check().is_ok() {
        let avx2 = report("avx2");
        assert!(
            avx2.starts_with("kernel path: avx2") && avx2.contains("element-wise: avx2"),
            "{avx2}"
        );
        let best = report("auto");
        let widest = if KernelPath::Avx512.check().is_ok() {
            "avx512"
        } else {
            "avx2"
        };
        assert!(best.contains(&format!("element-wise: {widest}")), "{best}");
    } else {
        println!("kernel path avx2: not tested on this CPU (no avx2+fma)");
    }
}

#[test]
fn unknown_or_unrunnable_kernel_paths_are_refused() {
    assert!("avx1024".parse::<KernelPath>().is_err());
    let (_tmp, dir) = common::tiny_model(&Tiny::default());
    let files = ModelFiles::from_dir(&dir).unwrap();
    for path in KernelPath::ALL {
        if let Err(why) = path.check() {
            let err = Embedder::load_with_kernel(&files, path)
                .err()
                .expect("refused");
            assert!(err.to_string().contains(why), "{err}");
        }
    }
}

/// GFLOP/s of each path on the encoder's shapes (one thread), and of the path's int8
/// kernel on the dense ones:
/// `cargo test --release --test integration kernel_gflops -- --ignored --nocapture`.
#[test]
#[ignore = "measurement: prints GFLOP/s per kernel path"]
fn kernel_gflops() {
    println!("{}", cpu_report());
    // (m, n, k): a 4096-token sub-batch through QKV, attention out, FFN up and down,
    // then one text of 240 tokens through one head's two attention products.
    let shapes = [
        ("qkv", 4096, 1152, 384),
        ("attn_out", 4096, 384, 384),
        ("ffn_up", 4096, 1536, 384),
        ("ffn_down", 4096, 384, 1536),
        ("scores", 240, 240, 32),
        ("context", 240, 32, 240),
    ];
    for path in runnable_paths("gflops") {
        for &(name, m, n, k) in &shapes {
            let a = values(m * k, 1);
            let w = values(n * k, 2);
            let mut d = vec![0.0f32; m * n];
            let weight = Weight::new(w.clone(), k, n);
            let dense = k >= 384;
            let flops = 2.0 * (m * n * k) as f64;
            let reps = (4e10 / flops).ceil() as usize;
            let run = |d: &mut [f32]| {
                if dense {
                    weight.accumulate(path, d, &a, m)
                } else {
                    // scores read k transposed; context reads v row-major, as attention does.
                    let (b_rs, b_cs) = if name == "scores" { (1, k) } else { (n, 1) };
                    kernels::matmul_on(path, m, n, k, d, n, false, &a, k, &w, b_rs, b_cs, 1.0)
                }
            };
            run(&mut d);
            let start = Instant::now();
            for _ in 0..reps {
                run(&mut d);
            }
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{:<9} {name:<9} {m}x{n}x{k}: {:.1} GFLOP/s",
                path.name(),
                flops * reps as f64 / secs / 1e9
            );
            if dense {
                // The same layer in int8 (this path's int8 kernel), bias included.
                let q8 = Weight::with_precision(Precision::Int8, w.clone(), k, n);
                let bias = values(n, 3);
                q8.linear(path, &mut d, &a, &bias, m);
                let start = Instant::now();
                for _ in 0..reps {
                    q8.linear(path, &mut d, &a, &bias, m);
                }
                println!(
                    "{:<9} {name:<9} {m}x{n}x{k}: {:.1} GOP/s int8 ({})",
                    path.name(),
                    flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9,
                    path.q8().name()
                );
            }
        }
    }
}
