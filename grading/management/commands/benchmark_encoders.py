"""Items per second of the text, image and audio encoders on this machine.

    python manage.py benchmark_encoders --json encoders.json

Defaults read the shared datasets next to the project (Mohler answers for text,
pages rendered from them for images, the speechocean762 sample for audio); pass
``--texts-csv``, ``--images`` or ``--speech-dir`` to use other inputs, or
``--skip`` to leave an encoder out.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _shared(*parts: str) -> Path:
    base = Path(getattr(settings, "BASE_DIR", Path.cwd()))
    return base.parent / "shared" / "datasets" / Path(*parts)


class Command(BaseCommand):
    help = "Measure encoder throughput (items/s) per batch size on the current device."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--texts-csv",
            default=str(_shared("grading", "mohler_short_answers.csv")),
            help="CSV with an 'answer' column",
        )
        parser.add_argument("--n-texts", type=int, default=512)
        parser.add_argument("--images", default=None, help="folder of images (default: pages rendered from the texts)")
        parser.add_argument("--n-images", type=int, default=8)
        parser.add_argument("--speech-dir", default=str(_shared("speech")), help="folder of WAV files")
        parser.add_argument("--n-audio", type=int, default=10)
        parser.add_argument("--batch-sizes", default="1,8,32,64")
        parser.add_argument("--skip", default="", help="comma-separated: text,image,audio")
        parser.add_argument(
            "--torch-threads",
            type=int,
            default=None,
            help="torch intra-op threads (default: torch's choice); on a "
            "shared or busy CPU, 1 avoids threads waiting on each other",
        )
        parser.add_argument("--json", dest="json_out", help="write results to this JSON file")

    def handle(self, *args, **opts) -> None:
        import torch

        from multimodal.research.bench import (
            encoder_throughput,
            format_table,
            load_texts,
            render_text_pages,
        )

        if opts["torch_threads"]:
            torch.set_num_threads(opts["torch_threads"])
        threads = torch.get_num_threads()  # loading CTranslate2 may change it later
        load_before = os.getloadavg()[0]
        skip = {s.strip() for s in opts["skip"].split(",") if s.strip()}
        try:
            batch_sizes = [int(b) for b in opts["batch_sizes"].split(",") if b.strip()]
            texts = load_texts(opts["texts_csv"], opts["n_texts"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        with tempfile.TemporaryDirectory() as tmp:
            images: list[Path] = []
            if "image" not in skip:
                if opts["images"]:
                    folder = Path(opts["images"])
                    images = sorted(
                        p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"}
                    )
                    images = images[: opts["n_images"]]
                else:
                    images = render_text_pages(texts, tmp, opts["n_images"])
            audios: list[Path] = []
            if "audio" not in skip:
                audios = sorted(Path(opts["speech_dir"]).glob("*.wav"))[: opts["n_audio"]]
                if not audios:
                    raise CommandError(f"no WAV files in {opts['speech_dir']}")
            rows = encoder_throughput(
                texts=[] if "text" in skip else texts, images=images, audios=audios, batch_sizes=batch_sizes
            )

        self.stdout.write(format_table(rows))
        self.stdout.write(
            f"torch threads {threads}, CPUs {os.cpu_count()}, "
            f"1-min load average {load_before:.1f} before / "
            f"{os.getloadavg()[0]:.1f} after"
        )
        if opts["json_out"]:
            out = Path(opts["json_out"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                json.dumps(
                    {
                        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "machine": platform.node() or platform.machine(),
                        "cpu_count": os.cpu_count(),
                        "torch_threads": threads,
                        "loadavg_1min": {"before": load_before, "after": os.getloadavg()[0]},
                        "rows": rows,
                    },
                    indent=2,
                )
            )
            self.stdout.write(f"wrote {out}")
