"""llama.cpp on the same GGUF, timed: the peer `attnlab bench --model` runs between its own runs.

One run per process: load the model, push the given prompt token ids through (llama.cpp's batches
of --batch tokens, logits of the last one only), then decode --tokens tokens greedily, one token
per step. Runs in the peer environment made by bench/setup.sh (llama-cpp-python).

Prints one JSON object per line: {"llama_cpp_python", "threads", "batch"}, then {"load_seconds",
"prefill_seconds", "decode_seconds", "prompt_tokens", "tokens", "peak_rss_bytes"} — the peak
resident memory of this whole process (getrusage), the Python interpreter and NumPy included.
"""
import argparse
import json
import resource
import time

import numpy as np
import llama_cpp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="path to the .gguf file")
    parser.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    parser.add_argument("--tokens", type=int, default=128, help="tokens to decode after the prompt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=512, help="prompt tokens per llama.cpp batch")
    args = parser.parse_args()
    prompt = [int(x) for x in args.prompt_ids.split(",")]
    print(json.dumps({"llama_cpp_python": llama_cpp.__version__, "threads": args.threads, "batch": args.batch}), flush=True)

    start = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=args.model, n_ctx=len(prompt) + args.tokens, n_batch=args.batch, n_ubatch=args.batch,
        n_threads=args.threads, n_threads_batch=args.threads, logits_all=False, verbose=False)
    load = time.perf_counter() - start
    n_vocab = llm.n_vocab()

    def argmax():
        # Logits of the last token evaluated: one row, read in place.
        return int(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,)).argmax())

    start = time.perf_counter()
    llm.eval(prompt)
    token = argmax()
    prefill = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(args.tokens):
        llm.eval([token])
        token = argmax()
    decode = time.perf_counter() - start

    # Linux reports ru_maxrss in KiB.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"load_seconds": load, "prefill_seconds": prefill, "decode_seconds": decode,
                      "prompt_tokens": len(prompt), "tokens": args.tokens, "peak_rss_bytes": peak}), flush=True)


if __name__ == "__main__":
    main()
