"""WORKER ONLY: transcripts/OCR of resource files and text embeddings of resources.

Loads the speech recogniser, the OCR engine and the text encoder through
``multimodal.registry``; imported by ``recommendations.tasks`` only (the GPU queue),
never by a module the web process loads.
"""

from __future__ import annotations

import hashlib
import logging

from multimodal.registry import get_asr, get_ocr, get_text_encoder, model_versions
from recommendations.models import LearningResource, ResourceKind

log = logging.getLogger(__name__)


def _resource_text(resource: LearningResource) -> str:
    return "\n".join(t for t in (resource.title, resource.description, resource.transcript) if t and t.strip())


def resource_extract_text(*, resource: LearningResource) -> str:
    """Transcript of an uploaded audio/video (speech recogniser) or OCR text of an image
    (slides). Returns the text; records why when the file cannot be read."""
    if not resource.file or resource.transcript.strip():
        return resource.transcript
    try:
        path = resource.file.path
        if resource.kind in (ResourceKind.AUDIO, ResourceKind.VIDEO):
            text = get_asr().transcribe(path).text
        elif resource.kind == ResourceKind.IMAGE:
            text = get_ocr()(path).text
        else:
            return resource.transcript
    except (OSError, ValueError) as exc:
        LearningResource.objects.filter(pk=resource.pk).update(content_error=str(exc)[:2000])
        log.warning("resource %s: could not read its file (%s)", resource.pk, exc)
        return resource.transcript
    LearningResource.objects.filter(pk=resource.pk).update(transcript=text, content_error="")
    resource.transcript = text
    return text


def resource_embed(*, resource_id: int, force: bool = False) -> bool:
    """Transcribe/OCR the resource's file if needed, then embed title + description +
    transcript with the text encoder. Idempotent: skipped when the text and encoder
    are unchanged. Returns whether a new embedding was written."""
    resource = LearningResource.objects.filter(pk=resource_id).first()
    if resource is None:
        return False
    resource_extract_text(resource=resource)
    text = _resource_text(resource)
    sha = hashlib.sha256(text.encode()).hexdigest()
    encoder = get_text_encoder()
    version = model_versions().get("text", "text")
    if (
        not force
        and resource.embedding
        and resource.embedding_source_sha == sha
        and resource.embedding_model == version
    ):
        return False
    vector = encoder.encode([text])[0]
    LearningResource.objects.filter(pk=resource.pk).update(
        embedding=[round(float(x), 6) for x in vector], embedding_model=version, embedding_source_sha=sha
    )
    return True


def resources_embed(*, resource_ids: list[int]) -> int:
    return sum(resource_embed(resource_id=rid) for rid in resource_ids)
