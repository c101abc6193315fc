import time


def handler(event, context):
    print("sleeping 2 s")
    time.sleep(2)
    print("awake")  # never printed: the timeout comes first
