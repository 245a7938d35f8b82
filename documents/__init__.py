"""Neutral models of what a plan holds: plain-dict resources (`props`) and IAM policy documents (`iam`).

Both the policy pack and the access matrix import these; neither owns them."""
