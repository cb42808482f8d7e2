"""The web dashboard of the archive (``clade serve``): runs, lineage trees, candidates, judges.

``create_app(archive)`` in :mod:`.app` builds the Starlette application; the modules beside
it turn archive reads into what the pages show (:mod:`.runs`, :mod:`.candidates`,
:mod:`.prompts`), lay out the tree and the charts as SVG geometry (:mod:`.tree`,
:mod:`.charts`), and :mod:`.server` runs it on uvicorn in a thread. Every page is a Jinja2
template with autoescape on: agents write the text shown here, and it is never trusted.
"""
