"""One module per workflow stage, named like its rule file in ``workflow/rules/``.

Each exposes ``run(...)``: paths in, paths out, the stage's config slice as a dict. They
hold the I/O; the work is done by the pure functions of ``harfuse.media``, ``flow``,
``encoders``, ``fusion`` and ``train``.
"""
