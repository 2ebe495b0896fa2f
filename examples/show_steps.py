"""Print one line per pipeline step from `openaml job list -p <pipeline> -o json` on stdin."""

import json
import sys

for job in json.load(sys.stdin):
    props = job.get("properties") or {}
    step = props.get("openaml.pipeline_step", job["name"])
    if props.get("azureml.isreused") == "true":
        how = f"reused {props['azureml.reusedrunid']}"
    else:
        how = f"ran ({props.get('openaml.rerun_reason', '')})"
    print(f"    {step:10} {job['status']:10} {how}")
