"""Grading a class: ``gradlab grade DIR --task TASK`` as functions.

    from gradlab.grade import load_task, grade_class
    run = grade_class("hw3/", load_task("rnn-minchar"), jobs=2)      # parallel, resumable
    run.records, run.files                                           # per-student dicts; CSV and summary

Modules: ``tasks`` (the task files and their validation; built-ins in tasks/*.toml), ``submissions``
(one file, notebook or folder per student), ``runner`` (the call into ``gradlab check`` and the pool of
worker processes), ``scoring`` (weighted checks), ``store`` (atomic writes), ``reports`` (CSV, Markdown,
Gradescope's results.json), ``grader`` (the whole run) and ``bundle`` (the Gradescope autograder zip).
"""

from gradlab.grade.bundle import gradescope_bundle
from gradlab.grade.grader import ClassRun, grade_class, grade_single
from gradlab.grade.reports import class_csv, gradescope_results, summary_markdown
from gradlab.grade.scoring import Grade, score
from gradlab.grade.tasks import Task, builtin_names, builtin_tasks, load_task

__all__ = ["ClassRun", "Grade", "Task", "builtin_names", "builtin_tasks", "class_csv", "grade_class",
           "grade_single", "gradescope_bundle", "gradescope_results", "load_task", "score", "summary_markdown"]
