"""The seed's I/O-bound experiment: each book's most common word that is not a stop word.

Per book, lines are streamed (constant memory), each ``line.decode().strip().lower().split()``
is counted, stop words are zeroed, and the most common word wins; a tie goes to the word seen
first (``Counter.most_common`` is stable over insertion order). A book with no countable word
reports no word (JSON ``null``, count 0). A book that is not UTF-8 fails alone, naming the byte
offset. Flags and output: see ``common.py``; plus ``--stop-words PATH|URL``.
"""

from collections import Counter

import common


def load_stop_words(location):
    """The stop words, one a line, each stripped."""
    try:
        with common.open_binary(location) as f:
            return frozenset(line.decode().strip() for line in f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise common.UsageError(f"cannot read stop words from {location!r}: {e}") from None


def most_common_word(name, location, stop_words):
    """``(name, word, count)`` for one book; ``word`` is None when no word counts."""
    counter = Counter()
    offset = 0
    try:
        with common.open_binary(location) as f:
            for raw in f:
                try:
                    line = raw.decode()
                except UnicodeDecodeError as e:
                    raise common.TaskError(
                        f"book {name!r} is not UTF-8: invalid byte at offset {offset + e.start}"
                    ) from None
                counter.update(line.strip().lower().split())
                offset += len(raw)
    except OSError as e:
        raise common.TaskError(f"book {name!r} ({common.describe(location)}): {e}") from None
    for word in stop_words:
        counter[word] = 0
    if not counter:
        return name, None, 0
    word, count = counter.most_common(1)[0]
    return (name, word, count) if count > 0 else (name, None, 0)


def line(result):
    name, word, count = result
    if word is None:
        return f"No countable word in {name}"
    return f'Most common word in {name} is "{word}" ({count} appearances)'


def body():
    p = common.parser(__doc__.splitlines()[0], books=True)
    p.add_argument("--stop-words", default=common.SEED_STOP_WORDS, help="file or URL, one word a line")
    args = p.parse_args()
    stop_words = load_stop_words(args.stop_words)
    inputs = [(name, (name, location, stop_words)) for name, location in common.books(args)]
    return common.run(
        args,
        "wordfreq",
        "name",
        most_common_word,
        inputs,
        lambda r: {"name": r[0], "word": r[1], "count": r[2]},
        line,
    )


if __name__ == "__main__":
    common.main(body)
