"""Many runs at once: ``autopack batch BATCH.yaml``.

A batch file lists runs (a run id, a plan, a project folder or a git repository to clone, config
overrides), or one plan and a list of project folders. Each run stays one ``autopack run`` process,
resumable as ever; the batch fans them out to a local pool of worker processes (``pool``) or to a Dask
cluster (``cluster``), shares per-provider limits between them (``autopack.llm.shared_limits``), keeps
each run's spend under its own cap and the batch's (``budget``), records where every run stands in the
batch folder (``state``), shows a live table (``view``), and writes a summary and one HTML page linking
every run's report (``report``).

Rooms: ``spec`` (the file, validated), ``state`` (the batch folder and its SQLite table), ``budget``
(cost caps), ``task`` (one run, on whatever machine), ``pool`` (the scheduler and the local engine),
``cluster`` (the Dask engine), ``view`` and ``report`` (what the user sees).
"""
