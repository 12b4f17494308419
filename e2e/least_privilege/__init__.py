"""Least privilege proven by what runs: what IAM evaluates for each AWS call, judged by moto's
policy evaluator against the deployed (or synthesized) policies (docs/least-privilege.md)."""
