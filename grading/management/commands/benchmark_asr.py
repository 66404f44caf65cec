"""Word error rate and real-time factor of the speech recogniser on a folder.

    python manage.py benchmark_asr --dir ../shared/datasets/speech --json asr.json
    python manage.py benchmark_asr --dir ../shared/datasets/speech --vocabulary own --bias hotwords

The folder holds ``transcripts.tsv`` (``utt_id<TAB>TEXT``) and ``<utt_id>.wav``
files, as in the shared speechocean762 sample.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Transcribe a folder of utterances and report WER and real-time factor."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dir", required=True, help="folder with transcripts.tsv and WAVs")
        parser.add_argument("--json", dest="json_out", help="write results to this JSON file")
        parser.add_argument(
            "--beam-size", type=int, default=None, help="beam size (default EDUPLATFORM_ASR_BEAM_SIZE or 5)"
        )
        parser.add_argument("--limit", type=int, default=None, help="only the first N utterances")
        parser.add_argument(
            "--vocabulary",
            default="none",
            choices=["none", "own", "generic"],
            help="bias the decoder with: none; own (each clip's reference words: an upper bound); "
            "generic (unrelated assignments' words: a control)",
        )
        parser.add_argument("--bias", default="hotwords", choices=["hotwords", "prompt"], help="how words reach it")
        parser.add_argument("--no-vad", action="store_true", help="turn voice-activity detection off (to measure it)")
        parser.add_argument("--per-utt", action="store_true", help="print every utterance")

    def handle(self, *args, **opts) -> None:
        from eduplatform.core.workers import models_configure
        from multimodal import registry
        from multimodal.research.asr_eval import benchmark_asr

        models_configure()
        asr = registry.get_asr()
        asr.vad = not opts["no_vad"]
        try:
            result = benchmark_asr(
                opts["dir"],
                asr=asr,
                beam_size=opts["beam_size"],
                limit=opts["limit"],
                vocabulary=opts["vocabulary"],
                bias=opts["bias"],
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        result["machine"] = platform.node() or platform.machine()

        if opts["per_utt"]:
            for u in result["per_utt"]:
                self.stdout.write(f"{u['utt_id']:<12} {u['wer']:>6.2f}  {u['ref']!r} -> {u['hyp']!r}")
        result["loadavg_1min"] = round(os.getloadavg()[0], 2)
        self.stdout.write(
            f"{'model':<18} {'device':<7} {'beam':>4} {'n':>4} {'audio_s':>8} {'WER':>7} {'RTF':>6} "
            f"{'vocabulary':>10} {'bias':>8} {'vad':>4}"
        )
        self.stdout.write(
            f"{result['model']:<18} {result['device']:<7} {result['beam_size']:>4} "
            f"{result['n']:>4} {result['audio_s']:>8.1f} {result['wer']:>7.3f} "
            f"{result['rtf']:>6.3f} {result['vocabulary']:>10} {result['bias']:>8} {result['vad']!s:>4}"
        )
        self.stdout.write(f"load average {result['loadavg_1min']}")
        if opts["json_out"]:
            out = Path(opts["json_out"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2))
            self.stdout.write(f"wrote {out}")
