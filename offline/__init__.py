"""Offline planning: the real `__main__.py` under Pulumi's mock runtime, no CLI, no cloud."""
