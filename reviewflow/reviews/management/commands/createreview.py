from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewflow.errors import ReviewflowError
from reviewflow.reviews import services


class Command(BaseCommand):
    help = "Create a review, with an owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--title", required=True)
        parser.add_argument("--owner", help="Username of the owner (default: first superuser)")
        parser.add_argument("--question", default="")
        parser.add_argument(
            "--protocol", default="", help="Protocol registration, e.g. PROSPERO ID"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        User = get_user_model()
        if opts["owner"]:
            owner = User.objects.filter(username=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"No user called “{opts['owner']}”.")
        else:
            owner = User.objects.filter(is_superuser=True).order_by("pk").first()
            if owner is None:
                raise CommandError("Name the owner with --owner USERNAME (there is no superuser).")
        try:
            review = services.create_review(
                title=opts["title"],
                slug=opts["slug"],
                owner=owner,
                question=opts["question"],
                protocol_registration=opts["protocol"],
            )
        except ReviewflowError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created review “{review.title}” ({review.slug}), owner {owner}.")
