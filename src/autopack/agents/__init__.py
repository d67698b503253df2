"""The agents room: Builder, Auditor, Doctor and Planner. Each turns a prompt into a validated result
through the LLM service; none of them touches git or runs subprocesses.
"""
