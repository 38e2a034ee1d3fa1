"""The seed's I/O-bound experiment: each book's most common word that is not a stop word.

Per book, lines are streamed (constant memory), each ``line.decode().strip().lower().split()``
is counted, stop words are zeroed, and the most common word wins; a tie goes to the word seen
first (``Counter.most_common`` is stable over insertion order). A book with no countable word
reports no word (JSON ``null``, count 0). A book that is not UTF-8 fails alone, naming the byte
offset. ``--mode async`` fetches every book as a coroutine on one event loop (URLs only). Flags
and output: see ``common.py``; plus ``--stop-words PATH|URL``.
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


class WordCount:
    """One book's count, fed line by line (raw bytes)."""

    def __init__(self, name):
        self.name = name
        self.counter = Counter()
        self.offset = 0

    def add(self, raw):
        try:
            line = raw.decode()
        except UnicodeDecodeError as e:
            raise common.TaskError(
                f"book {self.name!r} is not UTF-8: invalid byte at offset {self.offset + e.start}"
            ) from None
        self.counter.update(line.strip().lower().split())
        self.offset += len(raw)

    def result(self, stop_words):
        """``(name, word, count)``; ``word`` is None when no word counts."""
        for word in stop_words:
            self.counter[word] = 0
        if not self.counter:
            return self.name, None, 0
        word, count = self.counter.most_common(1)[0]
        return (self.name, word, count) if count > 0 else (self.name, None, 0)


def most_common_word(name, location, stop_words):
    """``(name, word, count)`` for one book; ``word`` is None when no word counts."""
    count = WordCount(name)
    try:
        with common.open_binary(location) as f:
            for raw in f:
                count.add(raw)
    except OSError as e:
        raise common.TaskError(f"book {name!r} ({common.describe(location)}): {e}") from None
    return count.result(stop_words)


async def most_common_word_async(name, location, stop_words):
    """``most_common_word`` as a coroutine: the book streams over HTTP on the event loop."""
    if not (isinstance(location, str) and common.is_url(location)):
        return most_common_word(name, location, stop_words)  # a file: nothing to await
    count = WordCount(name)
    try:
        async for raw in common.http_lines(location):
            count.add(raw)
    except (OSError, TimeoutError) as e:
        raise common.TaskError(f"book {name!r} ({common.describe(location)}): {e}") from None
    return count.result(stop_words)


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
        async_task=most_common_word_async,
    )


if __name__ == "__main__":
    common.main(body)
