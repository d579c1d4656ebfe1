"""Automated analysis with Argo Rollouts' semantics: templates, the condition language, the run."""
