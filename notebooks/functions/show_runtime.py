import os

VERSION = 2
print(f"init: module-level code runs (version {VERSION})")  # once per execution environment
invocations = 0  # lives as long as the environment: warm invocations see it grow


def handler(event, context):
    global invocations
    invocations += 1
    print(f"invocation {invocations} in this environment")
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION",
                 "_HANDLER", "GREETING"):
        print(f"{name} = {os.environ[name]}")
    print(f"context.function_name = {context.function_name}")
    print(f"context.memory_limit_in_mb = {context.memory_limit_in_mb!r}")
    print(f"context.get_remaining_time_in_millis() = {context.get_remaining_time_in_millis()}")
