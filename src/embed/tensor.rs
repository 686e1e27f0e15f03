//! A BERT encoder written with Candle tensor operations, so it runs on any Candle
//! device and in any float type: what `--dtype f16|bf16` uses (on CUDA above all).
//!
//! Why not Candle's `BertModel` in half precision: it builds the attention mask as
//! `(1 - mask) · f32::MIN` in the model's type, and `f32::MIN` is `-inf` in f16, so
//! every attended position gets `0 · -inf = NaN`. Here the mask is a finite additive
//! bias (-10,000, as the original BERT code), and the two reductions that lose most in
//! half precision, softmax and layer norm, run in f32 (Candle's `LayerNorm` widens f16
//! and bf16 itself). The weights are read in the chosen type; matrix products run in it.
//!
//! Same mathematics as Candle's `BertModel` and Hugging Face's `modeling_bert.py`
//! (absolute positions, token type 0, post-layer-norm); the weight names are
//! transformers' (optionally under `bert.`).

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;
use candle_nn::{embedding, layer_norm, linear, Embedding, LayerNorm, LayerNormConfig, Linear};
use candle_transformers::models::bert::{Config as BertConfig, HiddenAct};

use crate::error::{Error, Result};

/// Added to the attention scores of padding positions: exp(-10⁴) is 0 in every float
/// type, and -10⁴ is finite in f16 (max 65,504).
const MASKED: f64 = -10_000.0;

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    up: Linear,
    down: Linear,
    ffn_norm: LayerNorm,
}

/// The encoder, weights on one device in one float type.
pub struct TensorBert {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    act: HiddenAct,
    dtype: DType,
    device: Device,
}

impl TensorBert {
    /// Read the weights of `config` from a safetensors file onto `device` as `dtype`.
    pub fn load(path: &Path, config: &BertConfig, device: &Device, dtype: DType) -> Result<Self> {
        let bad = |e: candle_core::Error| {
            Error::model_file(
                path,
                format!(
                    "weights do not fit config.json (hidden_size {}, {} layers): {e}",
                    config.hidden_size, config.num_hidden_layers
                ),
            )
        };
        let vb = super::open_bert_weights(path, config, dtype, device)?;
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let norm_config = LayerNormConfig {
            eps: config.layer_norm_eps,
            ..LayerNormConfig::default()
        };
        let norm = |vb: VarBuilder| layer_norm(h, norm_config, vb).map_err(bad);
        let emb = vb.pp("embeddings");
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for n in 0..config.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{n}"));
            let attn = l.pp("attention");
            layers.push(Layer {
                query: linear(h, h, attn.pp("self.query")).map_err(bad)?,
                key: linear(h, h, attn.pp("self.key")).map_err(bad)?,
                value: linear(h, h, attn.pp("self.value")).map_err(bad)?,
                attn_out: linear(h, h, attn.pp("output.dense")).map_err(bad)?,
                attn_norm: norm(attn.pp("output.LayerNorm"))?,
                up: linear(h, i, l.pp("intermediate.dense")).map_err(bad)?,
                down: linear(i, h, l.pp("output.dense")).map_err(bad)?,
                ffn_norm: norm(l.pp("output.LayerNorm"))?,
            });
        }
        Ok(TensorBert {
            word: embedding(config.vocab_size, h, emb.pp("word_embeddings")).map_err(bad)?,
            position: embedding(
                config.max_position_embeddings,
                h,
                emb.pp("position_embeddings"),
            )
            .map_err(bad)?,
            token_type: embedding(config.type_vocab_size, h, emb.pp("token_type_embeddings"))
                .map_err(bad)?,
            embed_norm: norm(emb.pp("LayerNorm"))?,
            layers,
            heads: config.num_attention_heads,
            act: config.hidden_act,
            dtype,
            device: device.clone(),
        })
    }

    /// The float type the weights and products use.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Last hidden states `[n, len, hidden]` (in the model's type) of a padded batch:
    /// `ids` and `mask` are `[n, len]` u32, mask 1 for tokens and 0 for padding.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (n, len) = ids.dims2()?;
        let positions = Tensor::arange(0u32, len as u32, &self.device)?;
        let x = self
            .word
            .forward(ids)?
            .broadcast_add(&self.position.forward(&positions)?)?
            .broadcast_add(&self.token_type.forward(&Tensor::zeros(
                1,
                DType::U32,
                &self.device,
            )?)?)?;
        let mut x = self.embed_norm.forward(&x)?;
        // [n, 1, 1, len]: 0 where attended, MASKED on padding; added in f32.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * -MASKED)?.reshape((n, 1, 1, len))?;
        let h = x.dim(D::Minus1)?;
        let head_dim = h / self.heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let split = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((n, len, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        for layer in &self.layers {
            let q = split(layer.query.forward(&x)?)?;
            let k = split(layer.key.forward(&x)?)?;
            let v = split(layer.value.forward(&x)?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?;
            let scores = scores.to_dtype(DType::F32)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(self.dtype)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((n, len, h))?;
            x = layer
                .attn_norm
                .forward(&(layer.attn_out.forward(&context)? + &x)?)?;
            let up = layer.up.forward(&x)?;
            let up = match self.act {
                HiddenAct::Gelu => up.gelu_erf()?,
                HiddenAct::GeluApproximate => up.gelu()?,
                HiddenAct::Relu => up.relu()?,
            };
            x = layer.ffn_norm.forward(&(layer.down.forward(&up)? + &x)?)?;
        }
        Ok(x)
    }
}
