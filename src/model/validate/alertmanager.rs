//! `[alertmanager]`: its presence enables Alertmanager.

use super::{image, Reporter};
use crate::model::raw::RawComponent;
use crate::model::{Alertmanager, DEFAULT_ALERTMANAGER_IMAGE, DEFAULT_ALERTMANAGER_VERSION};

pub(super) fn validate(raw: &RawComponent, r: &mut Reporter<'_>) -> Alertmanager {
    Alertmanager {
        image: image(
            raw.image.as_ref(),
            DEFAULT_ALERTMANAGER_IMAGE,
            raw.version.as_ref(),
            DEFAULT_ALERTMANAGER_VERSION,
            raw.image_digest.as_ref(),
        ),
        replicas: raw.replicas.unwrap_or(1),
        size: r.volume("/alertmanager/storage_size", raw.storage_size.as_ref(), "1Gi"),
    }
}
