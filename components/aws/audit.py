"""The AWS audit trail of a prod stack (HIPAA 164.312(b)): every Secrets Manager API call (GetSecretValue,
PutSecretValue, rotation, policy changes) is a CloudTrail management event, so a trail of management events records
who read or changed which secret. Either the organisation's trail is recorded (a declaration the policy rules read)
or this stack creates one: multi-region, log-file validation on, encrypted with its own key whose policy lets only
CloudTrail, for this trail, encrypt; into a bucket of its own with public access blocked, versioning, TLS-only
access, and a policy allowing exactly CloudTrail, for this trail (aws:SourceArn), to write."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_aws as aws

from components.aws import actions


def trail_arn(region: str, account_id: str, name: str) -> str:
    """Known before the trail exists: the key and bucket policies name it."""
    return f"arn:aws:cloudtrail:{region}:{account_id}:trail/{name}"


def trail_key_policy(account_id: str, trail: str) -> str:
    """The account administers the key and may decrypt this trail's log files (IAM decides who reads them);
    CloudTrail may make data keys only for this trail, and describe the key."""
    context = {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountRootAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": actions.checked(actions.KEY_ADMIN), "Resource": "*"},
        {"Sid": "AccountReadsTrailLogs", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
         "Action": ["kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account_id}, "StringLike": context}},
        {"Sid": "CloudTrailEncryptsThisTrail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": ["kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceArn": trail}, "StringLike": context}},
        {"Sid": "CloudTrailDescribesKey", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": ["kms:DescribeKey"], "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
    ]}, indent=2)


def trail_bucket_policy(bucket: str, account_id: str, trail: str) -> str:
    """Only CloudTrail, writing for this trail, into this account's prefix; nothing over plain HTTP."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": bucket_arn, "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
        {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
         "Condition": {"StringEquals": {"aws:SourceArn": trail, "s3:x-amz-acl": "bucket-owner-full-control"}}},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}, indent=2)


@dataclass(frozen=True)
class AuditTrailArgs:
    account_id: str
    region: str
    trail_name: str
    bucket_name: str
    protect: bool
    tags: Mapping[str, str] = field(default_factory=dict)


class AuditTrail(pulumi.ComponentResource):
    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:AuditTrail", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        arn = trail_arn(args.region, args.account_id, args.trail_name)
        tags = {**args.tags, "purpose": "audit-trail"}
        key = aws.kms.Key(f"{name}-key", description=f"CloudTrail {args.trail_name}", enable_key_rotation=True, rotation_period_in_days=365,
                          deletion_window_in_days=30, policy=trail_key_policy(args.account_id, arn), tags=tags, opts=kept)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, force_destroy=False, tags=tags, opts=kept)
        access_block = aws.s3.BucketPublicAccessBlock(f"{name}-bucket-public-access", bucket=bucket.id, block_public_acls=True,
                                                      block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-bucket-ownership", bucket=bucket.id,
                                       rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=child)
        aws.s3.BucketVersioning(f"{name}-bucket-versioning", bucket=bucket.id,
                                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption", bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key.arn),
                bucket_key_enabled=True)],
            opts=child,
        )
        policy = aws.s3.BucketPolicy(f"{name}-bucket-policy", bucket=bucket.id, policy=trail_bucket_policy(args.bucket_name, args.account_id, arn),
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[access_block]))
        self.trail = aws.cloudtrail.Trail(
            name,
            name=args.trail_name,
            s3_bucket_name=bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=key.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[policy]),
        )
        self.trail_arn: pulumi.Output[str] = self.trail.arn
        self.register_outputs({"trail_arn": self.trail_arn})
