#!/usr/bin/env python3
"""CDK app: one users API stack for the environment chosen with `-c environment=<name>`."""

import os

from aws_cdk import App, Environment

from infra.nag import ACKNOWLEDGEMENTS, Acknowledgement, add_checks
from infra.settings import load_settings
from infra.stack import UsersApiStack


def build_stack(
    app: App, acknowledgements: tuple[Acknowledgement, ...] = ACKNOWLEDGEMENTS
) -> UsersApiStack:
    # cdk-nag runs on every synth of the app, so a finding nobody acknowledged fails it.
    add_checks(app, acknowledgements)
    return UsersApiStack(
        app,
        settings=load_settings(app.node.try_get_context),
        # Account and region come from the CLI's credentials; unset, the template is
        # environment-agnostic, which is what synth without credentials needs.
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )


if __name__ == "__main__":
    application = App()
    build_stack(application)
    application.synth()
