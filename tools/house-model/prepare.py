#!/usr/bin/python3
"""Prepare the house model's corpus: QMSum meeting transcripts rendered as
speaker-labelled plain text, one meeting per document, tokenized with the
Llama-2 SentencePiece model (BOS at each document start, EOS at its end).

usage: /usr/bin/python3 prepare.py SHARED_DIR OUT_DIR
writes OUT_DIR/train.bin, val.bin (uint16 token ids), val.txt (plain text of
the held-out meetings, for perplexity) and stats.json."""
import glob, json, os, sys

import numpy as np
import sentencepiece as spm


def render(path):
    d = json.load(open(path, encoding="utf-8"))
    lines = []
    for turn in d["meeting_transcripts"]:
        content = " ".join(turn["content"].split())
        if content:
            lines.append(f"{turn['speaker']}: {content}")
    return "\n".join(lines)


def main():
    shared, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(shared, "tokenizers/llama2/tokenizer.model"))
    stats = {}
    for split in ("train", "val"):
        files = sorted(glob.glob(os.path.join(shared, "data/qmsum", split, "*.json")))
        ids, texts = [], []
        for f in files:
            t = render(f)
            texts.append(t)
            ids.append(sp.bos_id())
            ids.extend(sp.encode(t))
            ids.append(sp.eos_id())
        arr = np.array(ids, dtype=np.uint16)
        arr.tofile(os.path.join(out, f"{split}.bin"))
        if split == "val":
            open(os.path.join(out, "val.txt"), "w", encoding="utf-8").write("\n\n".join(texts) + "\n")
        stats[split] = {"meetings": len(files), "tokens": int(arr.size),
                        "characters": sum(len(t) for t in texts)}
        print(split, stats[split])
    json.dump(stats, open(os.path.join(out, "stats.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
