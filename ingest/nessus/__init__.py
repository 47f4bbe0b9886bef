"""Reading Nessus exports: sources, the three readers and the one function that chooses.

    from vulnpipe.ingest.nessus.readers import open_reader
    reader = open_reader(source, profile)        # full, fast or parallel: see readers.py
    for host, findings in reader.hosts(): ...

Modules: :mod:`.sources` (files, directories, ``.zip``, ``.gz`` as byte streams),
:mod:`.build` (records, made in one place for every reader), :mod:`.reader` (the streaming
parser and the fast path's driver), :mod:`.fastpath`, :mod:`.parallel`, :mod:`.readers`
(:class:`ScanReader`, :func:`open_reader`), :mod:`.files` (many files on every core),
:mod:`.read` (iterators and DataFrames for scripts), :mod:`.inspect`, :mod:`.frames`.
"""
