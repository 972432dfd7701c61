"""The six stages of a product's one path, in order.

Each stage is a function in `batch_video.pipeline` and an asset of the same
name in the code location; errors carry these names in `stage=`, and the
console's status tables read run steps by them.
"""

PRODUCT_RECORD = "product_record"
PRODUCT_IMAGE = "product_image"
VOICEOVER_SCRIPT = "voiceover_script"
VOICEOVER_AUDIO = "voiceover_audio"
RENDERED_VIDEO = "rendered_video"
PUBLISHED_VIDEO = "published_video"

STAGES = (PRODUCT_RECORD, PRODUCT_IMAGE, VOICEOVER_SCRIPT, VOICEOVER_AUDIO, RENDERED_VIDEO, PUBLISHED_VIDEO)
