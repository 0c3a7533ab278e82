"""Drafting a plan from documents: items, dependencies, groups, an assessment, the TOML.

Each module is pure: `extract` reads work items from Markdown or text, `deps` finds what waits
for what, `grouping` turns items into tasks, `assess` says whether parallel work pays, `render`
writes the commented plan and the manifest, `refine` asks an agent to improve a draft (its one
subprocess goes through git_po.proc). `draft` ties them together.
"""
