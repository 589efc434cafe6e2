"""Student versions of the course notebooks, and the grading of submissions (docs/grading.md).

One source: a course notebook holds, per exercise, the student's answer cell, the solution
(cells tagged ``solution``), the check a student runs (tagged ``check``) and the grading tests
(tagged ``hidden-tests``); ``helpers.exercises`` says how the last two are written.

* ``write_student`` makes the version handed out (solutions and grading tests removed, checks
  kept, no outputs) and the grading spec: each exercise's check and grading tests as handed out.
* ``grade`` runs each submission (several at once with ``jobs``) in its own kernel process, in
  a temporary folder that is its home and working directory, under a time limit per cell and
  per notebook and a memory limit; a file that is not a notebook, or a malformed one, gets one
  line. After each exercise's check cell (the cell that is the check as handed out; a check
  called again elsewhere is not an edit) it adds the course notebook's check and grading tests
  (the original check, whatever the submission did to its own) and scores what the notebook
  computed. A submission that crashes, loops, runs out of memory, edits or deletes a check, or
  writes outside its folder gets the points of what did run and the reason; what it changed in
  the course folder or the submissions folder is put back. The CSV, one feedback file per
  student, the executed notebooks (in the submissions' order) and a histogram of the totals are
  written as it goes.

Where an exercise has an answers cell (``exercises.answers``), the kernel only hands its
answers over as data, and its grading tests run afterwards in a kernel of their own that the
submission never reaches; where Linux allows, each submission's kernel runs in a sandbox that
hides the course folder, the other submissions and the grader's files (issue 26).

The parts: ``handout`` (a course notebook's exercises, its student version, its grading spec),
``submission`` (a submitted file read, the check cells found in it), ``kernel`` (one
submission run in a kernel of its own), ``sandbox`` (what that kernel can see), ``judge`` (the
grading tests run on the answers handed over), ``guard`` (the folders a submission must leave
alone), ``report`` (feedback, CSV, histogram, summary) and ``run`` (a class graded).
"""

from helpers.grading.handout import (
    ANSWERS,
    CHECK,
    GRADING_SETUP,
    HIDDEN,
    HIDDEN_SETUP,
    SOLUTION,
    Exercise,
    GradingError,
    Spec,
    has_exercises,
    solution_leaks,
    spec_for,
    spec_from_notebook,
    spec_path,
    student_version,
    tags,
    write_student,
)
from helpers.grading.kernel import Grade, Limits, Problem
from helpers.grading.report import feedback, summary
from helpers.grading.run import default_jobs, grade, sandbox_note, submissions_in

__all__ = [
    "ANSWERS", "CHECK", "GRADING_SETUP", "HIDDEN", "HIDDEN_SETUP", "SOLUTION", "Exercise",
    "Grade", "GradingError", "Limits", "Problem", "Spec", "default_jobs", "feedback", "grade",
    "has_exercises", "sandbox_note", "solution_leaks", "spec_for",
    "spec_from_notebook", "spec_path", "student_version", "submissions_in", "summary", "tags",
    "write_student",
]
