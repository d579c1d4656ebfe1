"""Judges: pure functions of numbers. `comparison.compare` is the comparative canary judge
(Kayenta NetflixACAJudge semantics): Mann-Whitney test and shift interval per metric
(`mannwhitney`, `pairwise`), classification (`classify`), group scores and verdict (`score`)."""
