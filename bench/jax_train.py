"""The same decoder and training step as `attnlab train`, in JAX on the CPU, timed: the peer that
`attnlab bench --train` compares against (bench/setup-jax.sh makes its venv, bench/.venv-jax).

Reads one JSON object on standard input describing the model and the run:

    {"d_model": 128, "layers": 4, "q_heads": 4, "kv_heads": 4, "head_dim": 32, "ffn": 352,
     "vocab": 1024, "kv_source_map": [0, 1, 2, 3], "weight_sharing": "none",
     "tied_embeddings": true, "batch": 16, "seq": 128, "lr": 0.001, "steps": 20, "warmup": 5,
     "seed": 1, "gguf": "optional/initial/weights.gguf"}

The model: token embedding; per layer RMSNorm (eps 1e-5, gain) → Q (and K, V on producer layers,
those whose kv_source_map entry is themselves) → RoPE on adjacent pairs (2i, 2i + 1), base 10000,
θ_i = base^(−2i/head_dim) → causal softmax attention, query head h reading K/V head
h / (q_heads / kv_heads), the K/V of layer kv_source_map[l] (cross-layer attention) → W_O; residual;
RMSNorm → SwiGLU down(silu(gate x) ⊙ up x); residual; final RMSNorm; LM head (the embedding when
tied). Weight sharing (ALBERT): `all` shares one layer's weights by every layer, `attention` the
attention block (its norm, Q, K, V, O), `ffn` the feed-forward block (its norm, gate, up, down).
Loss: cross-entropy over every position (next token), the mean. AdamW (β 0.9/0.95, ε 1e-8, weight
decay 0.1 on the projection matrices, not on norms or embeddings, decoupled as in PyTorch), the
learning rate rising linearly over `warmup` steps, then a cosine to 0 at `steps`.

Batches are random tokens from `seed` (made before the clock starts). Initial weights: N(0, 0.02)
for matrices and embeddings, 1 for norm gains, or the F32/F16 tensors of a GGUF checkpoint
(llama.cpp's names: token_embd.weight, blk.N.attn_q.weight, …, output_norm.weight, output.weight).

Threads: the process is pinned to two CPUs (its first two allowed ones) before JAX starts, with
os.sched_setaffinity. XLA sizes its CPU thread pools from that mask, and the kernel cannot run the
process on more than two cores whatever threads exist; the printed cpu_per_wall (CPU seconds over
wall seconds across the timed steps) shows at most 2.

After one compile-and-run step and two warm-up steps (not timed, but in the learning-rate schedule and
in loss_first, the loss of the very first step), `steps` steps are timed one by one.
Prints one JSON object: tokens_per_second (batch·seq over the median step), step_seconds_median,
gflop_per_step (3 × the forward's 2 · multiply-adds: every matrix product applied, the LM head, and
the attention's two T×T products at full size, 2 · 2 · batch · seq² · q_heads · head_dim per layer),
loss_first, loss_last, threads, cpu_per_wall, jax.
"""
import json
import math
import os
import struct
import sys
import time

# Two CPUs before JAX (and XLA's thread pools) start.
_allowed = sorted(os.sched_getaffinity(0))
os.sched_setaffinity(0, _allowed[:2])

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_platforms", "cpu")


# MARK: - Model description


class Config:
    def __init__(self, d):
        self.d = d["d_model"]
        self.layers = d["layers"]
        self.qh = d["q_heads"]
        self.kvh = d.get("kv_heads", self.qh)
        self.hd = d.get("head_dim", self.d // self.qh)
        self.ffn = d["ffn"]
        self.vocab = d["vocab"]
        self.source = d.get("kv_source_map") or list(range(self.layers))
        self.sharing = d.get("weight_sharing", "none")
        self.tied = d.get("tied_embeddings", True)
        self.batch = d["batch"]
        self.seq = d["seq"]
        self.lr = d.get("lr", 1e-3)
        self.steps = d["steps"]
        self.warmup = d.get("warmup", 0)
        self.seed = d.get("seed", 1)
        self.gguf = d.get("gguf")
        # Steps run before the timed ones (the first compiles); the schedule counts them too.
        self.warm_steps = 3
        assert len(self.source) == self.layers and all(self.source[self.source[l]] == self.source[l] for l in range(self.layers))
        assert self.qh % self.kvh == 0 and self.hd % 2 == 0
        assert self.sharing in ("none", "all", "attention", "ffn")

    def producer(self, l):
        return self.source[l] == l

    def attn_set(self, l):
        """The attention weight set layer l uses."""
        return 0 if self.sharing in ("all", "attention") else l

    def ffn_set(self, l):
        return 0 if self.sharing in ("all", "ffn") else l

    def gflop_per_step(self):
        """3 × the forward pass's FLOPs (2 per multiply-add), the backward being twice the forward."""
        T, tokens = self.seq, self.batch * self.seq
        per_token = self.vocab * self.d
        for l in range(self.layers):
            per_token += 2 * self.qh * self.hd * self.d  # Q, O
            if self.producer(l):
                per_token += 2 * self.kvh * self.hd * self.d  # K, V
            per_token += 3 * self.ffn * self.d  # gate, up, down
        attention = self.layers * 2 * self.batch * T * T * self.qh * self.hd
        return 3 * 2 * (per_token * tokens + attention) / 1e9


# MARK: - Parameters


def init_params(c, key):
    keys = iter(jax.random.split(key, 8 * c.layers + 4))

    def matrix(rows, cols):
        return 0.02 * jax.random.normal(next(keys), (rows, cols), jnp.float32)

    attn_sets = sorted({c.attn_set(l) for l in range(c.layers)})
    ffn_sets = sorted({c.ffn_set(l) for l in range(c.layers)})
    kv_sets = {c.attn_set(l) for l in range(c.layers) if c.producer(l)}
    attn = {}
    for s in attn_sets:
        a = {"norm": jnp.ones(c.d), "wq": matrix(c.qh * c.hd, c.d), "wo": matrix(c.d, c.qh * c.hd)}
        if s in kv_sets:
            a["wk"] = matrix(c.kvh * c.hd, c.d)
            a["wv"] = matrix(c.kvh * c.hd, c.d)
        attn[str(s)] = a
    ffn = {str(s): {"norm": jnp.ones(c.d), "wg": matrix(c.ffn, c.d), "wu": matrix(c.ffn, c.d), "wd": matrix(c.d, c.ffn)} for s in ffn_sets}
    p = {"embed": matrix(c.vocab, c.d), "final_norm": jnp.ones(c.d), "attn": attn, "ffn": ffn}
    if not c.tied:
        p["output"] = matrix(c.vocab, c.d)
    return p


def read_gguf(path):
    """The tensors of a GGUF file (v2/v3) as float32 NumPy arrays by name: F32 and F16 only."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            inner, n = take("I"), take("Q")
            return [value(inner) for _ in range(n)]
        return take(scalar[kind])

    assert data[:4] == b"GGUF", f"{path}: not a GGUF file"
    pos = 4
    version, tensors, kvs = take("I"), take("Q"), take("Q")
    assert version >= 2
    meta = {}
    for _ in range(kvs):
        key = string()
        meta[key] = value(take("I"))
    infos = []
    for _ in range(tensors):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        infos.append((name, dims, take("I"), take("Q")))
    alignment = meta.get("general.alignment", 32)
    start = (pos + alignment - 1) // alignment * alignment
    out = {}
    for name, dims, kind, offset in infos:
        assert kind in (0, 1), f"{name}: only F32 and F16 tensors are read (type {kind})"
        dtype = np.float32 if kind == 0 else np.float16
        count = math.prod(dims)
        array = np.frombuffer(data, dtype, count, start + offset)
        out[name] = array.astype(np.float32).reshape(list(reversed(dims)))
    return out


def load_gguf(c, params, path):
    """Replaces every parameter that the checkpoint holds under llama.cpp's name (a shared set from
    the first layer that uses it)."""
    t = read_gguf(path)
    params["embed"] = jnp.asarray(t["token_embd.weight"])
    params["final_norm"] = jnp.asarray(t["output_norm.weight"])
    if not c.tied:
        params["output"] = jnp.asarray(t["output.weight"])
    names = {"norm": "attn_norm", "wq": "attn_q", "wk": "attn_k", "wv": "attn_v", "wo": "attn_output"}
    for s, a in params["attn"].items():
        l = next(l for l in range(c.layers) if str(c.attn_set(l)) == s and ("wk" not in a or c.producer(l)))
        for k in a:
            a[k] = jnp.asarray(t[f"blk.{l}.{names[k]}.weight"])
    names = {"norm": "ffn_norm", "wg": "ffn_gate", "wu": "ffn_up", "wd": "ffn_down"}
    for s, f in params["ffn"].items():
        l = next(l for l in range(c.layers) if str(c.ffn_set(l)) == s)
        for k in f:
            f[k] = jnp.asarray(t[f"blk.{l}.{names[k]}.weight"])
    return params


# MARK: - Forward and loss


def rms_norm(x, gain):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + 1e-5) * gain


def rope(x, c):
    """x: (B, T, heads, hd), rotated in adjacent pairs (2i, 2i + 1) by position · base^(−2i/hd)."""
    T = x.shape[1]
    theta = 10000.0 ** (-jnp.arange(0, c.hd, 2, dtype=jnp.float32) / c.hd)  # (hd/2)
    angle = jnp.arange(T, dtype=jnp.float32)[:, None] * theta[None, :]  # (T, hd/2)
    cos, sin = jnp.cos(angle)[None, :, None, :], jnp.sin(angle)[None, :, None, :]
    pairs = x.reshape(x.shape[:-1] + (c.hd // 2, 2))
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return jnp.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], axis=-1).reshape(x.shape)


def loss_fn(params, tokens, c):
    inputs, targets = tokens[:, :-1], tokens[:, 1:]  # (B, T)
    B, T = inputs.shape
    x = params["embed"][inputs]  # (B, T, d)
    mask = jnp.tril(jnp.ones((T, T), dtype=bool))
    kv = {}
    for l in range(c.layers):
        a, f = params["attn"][str(c.attn_set(l))], params["ffn"][str(c.ffn_set(l))]
        h = rms_norm(x, a["norm"])
        q = rope((h @ a["wq"].T).reshape(B, T, c.qh, c.hd), c)  # (B, T, qh, hd)
        if c.producer(l):
            k = rope((h @ a["wk"].T).reshape(B, T, c.kvh, c.hd), c)  # (B, T, kvh, hd)
            v = (h @ a["wv"].T).reshape(B, T, c.kvh, c.hd)
            kv[l] = (k, v)
        k, v = kv[c.source[l]]
        group = c.qh // c.kvh
        k, v = jnp.repeat(k, group, axis=2), jnp.repeat(v, group, axis=2)  # query head h ← kv head h / group
        s = jnp.einsum("bthd,bshd->bhts", q, k) / jnp.sqrt(jnp.float32(c.hd))  # (B, qh, T, T)
        s = jnp.where(mask, s, -jnp.inf)
        o = jnp.einsum("bhts,bshd->bthd", jax.nn.softmax(s, axis=-1), v).reshape(B, T, c.qh * c.hd)
        x = x + o @ a["wo"].T
        h = rms_norm(x, f["norm"])
        x = x + (jax.nn.silu(h @ f["wg"].T) * (h @ f["wu"].T)) @ f["wd"].T
    x = rms_norm(x, params["final_norm"])
    logits = x @ (params["embed"] if c.tied else params["output"]).T  # (B, T, vocab)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))


# MARK: - AdamW


def decays(params):
    """Weight decay on the projection matrices only: not on norms, not on the embedding."""
    return jax.tree_util.tree_map_with_path(lambda path, p: p.ndim == 2 and path[0].key != "embed", params)


def make_step(c, decay_mask):
    b1, b2, eps, wd = 0.9, 0.95, 1e-8, 0.1

    def lr_at(t):
        warm = c.lr * (t + 1) / max(c.warmup, 1)
        progress = (t - c.warmup) / max(c.warm_steps + c.steps - c.warmup, 1)
        cosine = c.lr * 0.5 * (1 + jnp.cos(jnp.pi * jnp.clip(progress, 0, 1)))
        return jnp.where(t < c.warmup, warm, cosine)

    def step(params, m, v, tokens, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, tokens, c)
        lr = lr_at(t)
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        c1, c2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)

        def update(p, m, v, decay):
            p = p * (1 - lr * wd) if decay else p
            return p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps)

        params = jax.tree.map(update, params, m, v, decay_mask)
        return params, m, v, loss

    return jax.jit(step, donate_argnums=(0, 1, 2))


# MARK: - Run


def main():
    c = Config(json.load(sys.stdin))
    params = init_params(c, jax.random.PRNGKey(c.seed))
    if c.gguf:
        params = load_gguf(c, params, c.gguf)
    m = jax.tree.map(jnp.zeros_like, params)
    v = jax.tree.map(jnp.zeros_like, params)
    step = make_step(c, decays(params))
    rng = np.random.default_rng(c.seed)
    batches = [jnp.asarray(rng.integers(0, c.vocab, (c.batch, c.seq + 1), dtype=np.int32)) for _ in range(c.warm_steps + c.steps)]
    losses = []
    for t in range(c.warm_steps):  # the first compiles; none is timed
        params, m, v, loss = step(params, m, v, batches[t], jnp.int32(t))
        losses.append(float(loss))
    seconds = []
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for t in range(c.warm_steps, c.warm_steps + c.steps):
        start = time.perf_counter()
        params, m, v, loss = step(params, m, v, batches[t], jnp.int32(t))
        losses.append(float(loss))  # waits for the step
        seconds.append(time.perf_counter() - start)
    cpu_per_wall = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
    median = float(np.median(seconds))
    print(json.dumps({
        "tokens_per_second": c.batch * c.seq / median,
        "step_seconds_median": median,
        "gflop_per_step": c.gflop_per_step(),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "threads": len(os.sched_getaffinity(0)),
        "cpu_per_wall": cpu_per_wall,
        "jax": jax.__version__,
    }))


if __name__ == "__main__":
    main()
