//! A BERT encoder for the CPU, written for throughput, with sentence pooling built in.
//!
//! Same mathematics as Candle's `BertModel` (and Hugging Face's `modeling_bert.py`),
//! organised differently because that is where the time went:
//! - **no padding**: a batch is its texts' tokens packed end to end (`[tokens, hidden]`);
//!   the dense layers run over real tokens only and attention runs per text, so a short
//!   text costs its own length, not the batch's longest;
//! - **attention per (text, head)** straight out of the text's fused QKV projection,
//!   computed just before it: no reshapes, no mask; keys and values packed once per
//!   head, then scores, softmax and context per block of query rows
//!   (`kernels::attention_head`);
//! - **the rest of a layer per block of rows** (`TOKEN_ROWS`): attention output, norm,
//!   feed-forward and norm run block by block, so activations stay in L2;
//! - **bias in the product** (the output is pre-filled with the bias and accumulated),
//!   residual + layer norm in one pass, GELU and softmax vectorised (`kernels`);
//! - **one allocation of scratch per batch**, reused by every layer;
//! - **one thread per batch**: texts are split into per-thread sub-batches, each runs
//!   the whole encoder single-threaded, so threads never wait on each other.
//!
//! Loading reads the same safetensors names as Candle's `BertModel` (with or without a
//! `bert.` prefix). The Candle model stays the path for CUDA and the reference in the
//! benchmark (`Engine::Candle`).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config as BertConfig, HiddenAct};
use rayon::prelude::*;

use super::kernels::{self, KernelPath, Precision, Weight};
use super::Pooling;
use crate::error::{Error, Result};

/// Rows of the batch taken at once through a layer's token-wise part (attention
/// output, norm, feed-forward up, GELU, down, norm): the block's feed-forward
/// activations (96 × 1536 floats, 590 KB) stay in L2 between the products and GELU,
/// where the whole batch's (25 MB for 4,096 tokens) went out to memory and back
/// three times. 48 to 240 measured alike, 1-3 % faster than the whole batch at once,
/// on an AMD EPYC (`paperscout embed` on 512 abstracts, alternating); the vectors
/// are the same to the bit (each row's sums are the same).
const TOKEN_ROWS: usize = 96;

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value weights stacked: `[3·hidden, hidden]`, row-major (out, in).
    qkv_w: Weight,
    qkv_b: Vec<f32>,
    out_w: Weight,
    out_b: Vec<f32>,
    attn_norm: LayerNorm,
    up_w: Weight,
    up_b: Vec<f32>,
    down_w: Weight,
    down_b: Vec<f32>,
    ffn_norm: LayerNorm,
}

/// The encoder's weights, as plain `f32` rows.
pub struct CpuBert {
    hidden: usize,
    heads: usize,
    intermediate: usize,
    vocab: usize,
    max_positions: usize,
    eps: f32,
    act: HiddenAct,
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type table: every token is of type 0 for single texts.
    token_type0: Vec<f32>,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    /// The kernels every product of this model runs on (weights are packed for it).
    path: KernelPath,
    /// The number format of the `Linear` layers.
    precision: Precision,
}

impl CpuBert {
    /// Read the weights of `config` from a safetensors file, for the best kernels this
    /// CPU runs ([`KernelPath::select`]: `PAPERSCOUT_KERNEL` may name one), in the
    /// precision `PAPERSCOUT_PRECISION` names (f32 by default). Names and shapes are
    /// checked; any mismatch is an error naming the file.
    pub fn load(path: &Path, config: &BertConfig) -> Result<Self> {
        let kernel = KernelPath::select().map_err(Error::Invalid)?;
        let precision = Precision::select().map_err(Error::Invalid)?;
        Self::load_with_kernel(path, config, kernel, precision)
    }

    /// [`Self::load`] on a chosen kernel path and precision; an error when this CPU
    /// cannot run the path.
    pub fn load_with_kernel(
        path: &Path,
        config: &BertConfig,
        kernel: KernelPath,
        precision: Precision,
    ) -> Result<Self> {
        if let Err(why) = kernel.check() {
            return Err(Error::Invalid(format!(
                "kernel path {}: this CPU cannot run it ({why})",
                kernel.name()
            )));
        }
        let bad = |e: candle_core::Error| {
            Error::model_file(
                path,
                format!(
                    "weights do not fit config.json (hidden_size {}, {} layers): {e}",
                    config.hidden_size, config.num_hidden_layers
                ),
            )
        };
        let vb = super::open_bert_weights(path, config, DType::F32, &Device::Cpu)?;
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let get = |vb: &VarBuilder, shape: &[usize], name: &str| -> Result<Vec<f32>> {
            let t: Tensor = vb.get(shape, name).map_err(bad)?;
            t.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(bad)
        };
        let norm = |vb: &VarBuilder| -> Result<LayerNorm> {
            Ok(LayerNorm {
                gamma: get(vb, &[h], "weight")?,
                beta: get(vb, &[h], "bias")?,
            })
        };
        let emb = vb.pp("embeddings");
        let token_types = get(
            &emb,
            &[config.type_vocab_size, h],
            "token_type_embeddings.weight",
        )?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for n in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{n}"));
            let attn = l.pp("attention");
            let mut qkv_w = get(&attn, &[h, h], "self.query.weight")?;
            let weight =
                |w: Vec<f32>, k: usize, n: usize| Weight::with_precision(precision, w, k, n);
            // QKV stays f32 in every precision: its errors pass through softmax, and
            // int8 there cost the most (measured on 27,085 abstracts: cosine to f32
            // ≥ 0.9947 with it, ≥ 0.9974 without; see README, "int8").
            let qkv_weight = |w: Vec<f32>| Weight::new(w, h, 3 * h);
            qkv_w.extend(get(&attn, &[h, h], "self.key.weight")?);
            qkv_w.extend(get(&attn, &[h, h], "self.value.weight")?);
            let mut qkv_b = get(&attn, &[h], "self.query.bias")?;
            qkv_b.extend(get(&attn, &[h], "self.key.bias")?);
            qkv_b.extend(get(&attn, &[h], "self.value.bias")?);
            layers.push(Layer {
                qkv_w: qkv_weight(qkv_w),
                qkv_b,
                out_w: weight(get(&attn, &[h, h], "output.dense.weight")?, h, h),
                out_b: get(&attn, &[h], "output.dense.bias")?,
                attn_norm: norm(&attn.pp("output.LayerNorm"))?,
                up_w: weight(get(&l, &[i, h], "intermediate.dense.weight")?, h, i),
                up_b: get(&l, &[i], "intermediate.dense.bias")?,
                down_w: weight(get(&l, &[h, i], "output.dense.weight")?, i, h),
                down_b: get(&l, &[h], "output.dense.bias")?,
                ffn_norm: norm(&l.pp("output.LayerNorm"))?,
            });
        }
        Ok(CpuBert {
            hidden: h,
            heads: config.num_attention_heads,
            intermediate: i,
            vocab: config.vocab_size,
            max_positions: config.max_position_embeddings,
            eps: config.layer_norm_eps as f32,
            act: config.hidden_act,
            word: get(&emb, &[config.vocab_size, h], "word_embeddings.weight")?,
            position: get(
                &emb,
                &[config.max_position_embeddings, h],
                "position_embeddings.weight",
            )?,
            token_type0: token_types[..h].to_vec(),
            embed_norm: norm(&emb.pp("LayerNorm"))?,
            layers,
            path: kernel,
            precision,
        })
    }

    /// The kernel path this model's products run on.
    pub fn kernel_path(&self) -> KernelPath {
        self.path
    }

    /// The number format of this model's `Linear` layers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Pooled, L2-normalised sentence vectors for tokenized texts, in input order.
    /// Work is split across the rayon pool by tokens, one sub-batch per thread.
    pub fn embed(&self, texts: &[&[u32]], pooling: Pooling) -> Result<Vec<Vec<f32>>> {
        for ids in texts {
            if ids.len() > self.max_positions {
                return Err(Error::Invalid(format!(
                    "a text of {} tokens exceeds the model's {} positions",
                    ids.len(),
                    self.max_positions
                )));
            }
            if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(Error::Tokenizer(format!(
                    "token id {bad} is outside the model's vocabulary of {}: tokenizer.json does not belong to these weights",
                    self.vocab
                )));
            }
        }
        let parts = self.split(texts, rayon::current_num_threads());
        let run = |part: &Vec<usize>| {
            let batch: Vec<&[u32]> = part.iter().map(|&i| texts[i]).collect();
            self.forward(&batch, pooling)
        };
        let pooled: Vec<Vec<Vec<f32>>> = if parts.len() > 1 {
            parts.par_iter().map(run).collect()
        } else {
            parts.iter().map(run).collect()
        };
        let mut out = vec![Vec::new(); texts.len()];
        for (part, vectors) in parts.iter().zip(pooled) {
            for (&i, v) in part.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Split texts into at most `threads` sub-batches of about equal work: each text,
    /// longest first, goes to the least loaded one. Work per token is the dense layers
    /// (`4h² + 2hi` multiply-adds) plus attention over the text's own length (`2hl`).
    fn split(&self, texts: &[&[u32]], threads: usize) -> Vec<Vec<usize>> {
        let (h, i) = (self.hidden as u64, self.intermediate as u64);
        let cost = |l: usize| l as u64 * (4 * h * h + 2 * h * i + 2 * h * l as u64);
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&t| std::cmp::Reverse(texts[t].len()));
        let n = threads.clamp(1, texts.len().max(1));
        let mut parts: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); n];
        for t in order {
            if let Some(least) = parts.iter_mut().min_by_key(|(load, _)| *load) {
                least.0 += cost(texts[t].len());
                least.1.push(t);
            }
        }
        parts
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// The whole encoder over one packed batch, on the calling thread.
    fn forward(&self, texts: &[&[u32]], pooling: Pooling) -> Vec<Vec<f32>> {
        let _span = tracing::trace_span!("cpu_forward", texts = texts.len()).entered();
        let h = self.hidden;
        let tokens: usize = texts.iter().map(|t| t.len()).sum();
        if tokens == 0 {
            return texts.iter().map(|_| vec![0.0; h]).collect();
        }
        let longest = texts.iter().map(|t| t.len()).max().unwrap_or(0);
        let mut x = vec![0f32; tokens * h];
        // One text's QKV projection at a time; its first rows are the token-wise
        // part's scratch for the attention output.
        let mut qkv = vec![0f32; longest.max(tokens.min(TOKEN_ROWS)) * 3 * h];
        let mut ctx = vec![0f32; tokens * h];
        let mut up = vec![0f32; tokens.min(TOKEN_ROWS) * self.intermediate];
        let mut scores = vec![0f32; longest * longest];
        let mut packed = kernels::AttentionScratch::new();

        // Embeddings: word + position + token type 0, then layer norm.
        let mut row = 0;
        for ids in texts {
            for (pos, &id) in ids.iter().enumerate() {
                let out = &mut x[row * h..(row + 1) * h];
                let w = &self.word[id as usize * h..(id as usize + 1) * h];
                let p = &self.position[pos * h..(pos + 1) * h];
                // The order of Hugging Face's BertEmbeddings: (word + type) + position.
                for (((o, w), p), t) in out.iter_mut().zip(w).zip(p).zip(&self.token_type0) {
                    *o = (w + t) + p;
                }
                row += 1;
            }
        }
        // `ctx` is all zeros here: layer norm of x + 0.
        kernels::add_layer_norm(
            &mut x,
            &ctx,
            &self.embed_norm.gamma,
            &self.embed_norm.beta,
            self.eps,
        );

        for layer in &self.layers {
            self.attention(
                layer,
                texts,
                &x,
                &mut qkv,
                &mut ctx,
                &mut scores,
                &mut packed,
            );
            let mut r0 = 0;
            while r0 < tokens {
                let rows = TOKEN_ROWS.min(tokens - r0);
                let span = r0 * h..(r0 + rows) * h;
                self.token_wise(
                    layer,
                    &mut x[span.clone()],
                    &mut ctx[span],
                    &mut qkv[..rows * h],
                    &mut up[..rows * self.intermediate],
                    rows,
                );
                r0 += rows;
            }
            std::mem::swap(&mut x, &mut ctx);
        }

        // Pool each text's rows and normalise.
        let mut out = Vec::with_capacity(texts.len());
        let mut start = 0;
        for ids in texts {
            let rows = &x[start * h..(start + ids.len()) * h];
            start += ids.len();
            let mut v = vec![0f32; h];
            match pooling {
                Pooling::Cls => v.copy_from_slice(&rows[..h.min(rows.len())]),
                Pooling::Mean => {
                    for r in rows.chunks_exact(h) {
                        for (a, b) in v.iter_mut().zip(r) {
                            *a += b;
                        }
                    }
                }
            }
            let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
            v.iter_mut().for_each(|a| *a /= norm);
            out.push(v);
        }
        out
    }

    /// The token-wise rest of a layer over `rows` rows, in place: `x` holds the layer's
    /// input and `ctx` the attention's context on entry; on return `ctx` holds the
    /// layer's output. `attn_out` and `up` are scratch of `rows × hidden` and
    /// `rows × intermediate` floats.
    fn token_wise(
        &self,
        layer: &Layer,
        x: &mut [f32],
        ctx: &mut [f32],
        attn_out: &mut [f32],
        up: &mut [f32],
        rows: usize,
    ) {
        // ctx ← ctx·Woᵀ + b, then x ← LN(x + ctx). The product needs a separate
        // destination; the sum is the same either way round, so the norm writes
        // straight into x.
        self.linear(attn_out, ctx, &layer.out_w, &layer.out_b, rows);
        kernels::add_layer_norm(
            x,
            attn_out,
            &layer.attn_norm.gamma,
            &layer.attn_norm.beta,
            self.eps,
        );
        self.linear(up, x, &layer.up_w, &layer.up_b, rows);
        match self.act {
            HiddenAct::Gelu => kernels::gelu_erf(up),
            HiddenAct::GeluApproximate => kernels::gelu_tanh(up),
            HiddenAct::Relu => up.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
        self.linear(ctx, up, &layer.down_w, &layer.down_b, rows);
        kernels::add_layer_norm(
            ctx,
            x,
            &layer.ffn_norm.gamma,
            &layer.ffn_norm.beta,
            self.eps,
        );
    }

    /// Self-attention of every text: `ctx[t, head] = softmax(q·kᵀ/√d)·v`, per text and
    /// head ([`kernels::attention_head`]). Each text's fused QKV projection is computed
    /// just before its heads, into `qkv` (at least its `l × 3·hidden` floats), so the
    /// heads read q, k and v in place while the text's block is still in cache.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        layer: &Layer,
        texts: &[&[u32]],
        x: &[f32],
        qkv: &mut [f32],
        ctx: &mut [f32],
        scores: &mut [f32],
        packed: &mut kernels::AttentionScratch,
    ) {
        let h = self.hidden;
        let d = h / self.heads;
        let ld = 3 * h;
        let scale = 1.0 / (d as f32).sqrt();
        let mut start = 0;
        for ids in texts {
            let l = ids.len();
            let block = &mut qkv[..l * ld];
            self.linear(
                block,
                &x[start * h..(start + l) * h],
                &layer.qkv_w,
                &layer.qkv_b,
                l,
            );
            for head in 0..self.heads {
                let q = &block[head * d..];
                let k = &block[h + head * d..];
                let v = &block[2 * h + head * d..];
                // This text's ctx rows, this head's columns.
                let out = &mut ctx[start * h + head * d..];
                kernels::attention_head(
                    self.path, l, d, q, k, v, ld, out, h, scale, scores, packed,
                );
            }
            start += l;
        }
    }
}

impl CpuBert {
    /// `out[rows×n] = input[rows×k] · wᵀ + b`, `w` stored `[n×k]` (out, in).
    fn linear(&self, out: &mut [f32], input: &[f32], w: &Weight, b: &[f32], rows: usize) {
        w.linear(self.path, out, input, b, rows);
    }
}
