//! `[grafana]`: its presence enables Grafana.

use super::{image, Reporter};
use crate::model::raw::RawGrafana;
use crate::model::{Grafana, DEFAULT_GRAFANA_IMAGE, DEFAULT_GRAFANA_VERSION};

pub(super) fn validate(raw: &RawGrafana, r: &mut Reporter<'_>) -> Grafana {
    Grafana {
        image: image(
            raw.image.as_ref(),
            DEFAULT_GRAFANA_IMAGE,
            raw.version.as_ref(),
            DEFAULT_GRAFANA_VERSION,
            raw.image_digest.as_ref(),
        ),
        size: r.volume("/grafana/storage_size", raw.storage_size.as_ref(), "10Gi"),
        admin_secret: raw.admin_secret.clone(),
        egress: super::expose::egress(raw.egress.as_ref(), r),
        resources: super::resources::resources(
            raw.resources.as_ref(),
            "/grafana/resources",
            &super::resources::GRAFANA,
            r,
        ),
    }
}
