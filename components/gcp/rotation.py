"""The Pub/Sub topic Secret Manager notifies when a secret is due for rotation."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_gcp as gcp

PUBLISHER = "roles/pubsub.publisher"


class RotationTopic(pulumi.ComponentResource):
    """Secret Manager publishes `SECRET_ROTATE` messages to the topic on each secret's rotation period;
    a rotation job (or the people on call) subscribes. Only the Secret Manager service agent may publish."""

    def __init__(self, name: str, project: str, topic: str, service_agent: pulumi.Input[str], labels: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:gcp:RotationTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = gcp.pubsub.Topic(f"{name}-topic", name=topic, project=project, labels=dict(labels), opts=child)
        self.publisher = gcp.pubsub.TopicIAMMember(
            f"{name}-secretmanager", project=project, topic=self.topic.name, role=PUBLISHER, member=service_agent, opts=child
        )
        self.topic_id = self.topic.id
        self.register_outputs({"topic_id": self.topic_id})
