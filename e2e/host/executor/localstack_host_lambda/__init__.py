"""Run LocalStack Lambda functions as local processes instead of Docker containers.

Selected with LAMBDA_RUNTIME_EXECUTOR=host. See executor.py for the LocalStack side and
init.py / runtime.py for the processes that stand in for a Lambda execution environment.
"""
