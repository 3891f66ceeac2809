"""llama.cpp on a checkpoint AttnLab wrote: does it read the same model?

An MHA, GQA or MQA checkpoint without K/V or weight sharing is a standard Llama GGUF. For each
--model this loads it in llama.cpp (llama-cpp-python, the environment bench/setup.sh makes) and
compares it with AttnLab on the same text, through AttnLab's own commands:

1. tokens: llama.cpp's tokenization of --text (no BOS; control tokens as written) has as many
   tokens as `attnlab ppl` scores;
2. perplexity: llama.cpp's logits at every position (Float32 K/V cache, one thread), log-softmax in
   float64, mean negative log-likelihood of each next token, against `attnlab ppl --dtype fp32` on
   the same text in one window: relative difference at most --tolerance;
3. greedy decoding: the tokens llama.cpp picks after the first --prompt-tokens tokens against
   `attnlab decode --prompt-ids ... --dtype fp32`.

F16 checkpoints differ a little more than F32 ones: llama.cpp rounds the activations to fp16 in
each product with an F16 matrix, AttnLab keeps them Float32. Exits 1 if any check fails.

    bench/.venv/bin/python bench/check_checkpoint_llama.py --model ckpt.gguf --text README.md
"""
import argparse
import json
import subprocess
import sys

import numpy as np
import llama_cpp


def attnlab(binary, arguments):
    run = subprocess.run([binary] + arguments + ["--json"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{binary} {' '.join(arguments)}: {run.stderr.strip()}")
    return json.loads(run.stdout)


def check(path, text_path, binary, prompt_tokens, new_tokens, tolerance):
    text = open(text_path, encoding="utf-8").read()
    llm = llama_cpp.Llama(model_path=path, n_ctx=4096, n_batch=512, n_threads=1, n_threads_batch=1, logits_all=True,
                          type_k=0, type_v=0, verbose=False)  # 0 = GGML_TYPE_F32: no fp16 rounding in the cache
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    ppl = attnlab(binary, ["ppl", "--model", path, "--text", text_path, "--dtype", "fp32",
                           "--window", str(max(len(tokens), 2)), "--max-tokens", "0", "--max-seconds", "600"])
    llm.eval(tokens)
    logits = np.array(llm.scores[:len(tokens), :llm.n_vocab()], dtype=np.float64)  # [tokens × vocab]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    nll = -log_probs[np.arange(len(tokens) - 1), tokens[1:]].mean()
    relative = abs(nll - ppl["mean_nll"]) / abs(ppl["mean_nll"])

    prompt = tokens[:prompt_tokens]
    decoded = attnlab(binary, ["decode", "--model", path, "--prompt-ids", ",".join(map(str, prompt)),
                               "--tokens", str(new_tokens), "--dtype", "fp32"])["generated_tokens"]
    llm.reset()
    llm.eval(prompt)
    greedy = []
    for _ in range(new_tokens):
        greedy.append(int(np.argmax(llm.scores[llm.n_tokens - 1, :llm.n_vocab()])))
        llm.eval([greedy[-1]])

    same_tokens = len(tokens) == ppl["text_tokens"]
    ok = same_tokens and relative <= tolerance and decoded == greedy
    print(f"{path}: {len(tokens)} tokens (attnlab {ppl['text_tokens']}); mean NLL llama.cpp {nll:.7f}, "
          f"attnlab {ppl['mean_nll']:.7f}, relative difference {relative:.2e}; greedy {'equal' if decoded == greedy else f'differs: {greedy} vs {decoded}'}"
          f" — {'ok' if ok else 'FAILED'}")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True, help="a checkpoint (.gguf); repeat for several")
    parser.add_argument("--text", required=True, help="UTF-8 text to score")
    parser.add_argument("--attnlab", default=".build/release/attnlab", help="the attnlab binary")
    parser.add_argument("--prompt-tokens", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=8, help="tokens to decode greedily")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest relative difference of the mean NLL")
    args = parser.parse_args()
    print(f"llama-cpp-python {llama_cpp.__version__}")
    results = [check(m, args.text, args.attnlab, args.prompt_tokens, args.tokens, args.tolerance) for m in args.model]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
