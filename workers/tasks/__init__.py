"""Worker functions of the job kinds other than train/infer (see ``backend.jobs.tasks``)."""
