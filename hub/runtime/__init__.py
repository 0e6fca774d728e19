"""Controller machinery without domain words: queue, caches, index, writer, leadership."""
