//! `DeviceStore`: the linked device's own credentials, one sealed row per tenant in `wa_device`.

use async_trait::async_trait;
use store::whatsapp_keys::wa_device;
use whatsapp_rust::wacore::stats::StorageResourceReport;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::error::Result as StoreResult;
use whatsapp_rust::wacore::store::traits::DeviceStore;

use super::kv::{decode, encode};
use super::{PgSessionStore, Result, SessionStoreError};

/// AAD purpose of the device row (the tenant is bound by the data key itself).
const DEVICE_PURPOSE: &str = "wa/device";

/// One device per tenant store, so its id is constant; the crate only logs it.
const DEVICE_ID: i32 = 1;

impl PgSessionStore {
    fn seal_device(&self, device: &Device) -> Result<Vec<u8>> {
        let plain = encode("device", device)?;
        Ok(self.key.seal(DEVICE_PURPOSE, &plain)?)
    }
}

#[async_trait]
impl DeviceStore for PgSessionStore {
    async fn save(&self, device: &Device) -> StoreResult<()> {
        let sealed = self.seal_device(device)?;
        let mut tx = self.begin().await?;
        wa_device::save(&mut tx, &sealed)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(())
    }

    async fn load(&self) -> StoreResult<Option<Device>> {
        let mut tx = self.begin().await?;
        let sealed = wa_device::load(&mut tx)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = self
            .key
            .open(DEVICE_PURPOSE, &sealed)
            .map_err(SessionStoreError::from)?;
        Ok(Some(decode("device", &plain)?))
    }

    async fn exists(&self) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let exists = wa_device::exists(&mut tx)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(exists)
    }

    /// Persists fresh credentials right away (as the reference stores do), so the keys a QR code advertises
    /// survive a crash before the first background save. An existing device is kept.
    async fn create(&self) -> StoreResult<i32> {
        let sealed = self.seal_device(&Device::new())?;
        let mut tx = self.begin().await?;
        wa_device::create(&mut tx, &sealed)
            .await
            .map_err(SessionStoreError::from)?;
        tx.commit().await.map_err(SessionStoreError::from)?;
        Ok(DEVICE_ID)
    }

    /// The data lives in PostgreSQL, not in this process.
    async fn resource_report(&self) -> StorageResourceReport {
        StorageResourceReport {
            memory_bytes: Some(0),
            ..StorageResourceReport::default()
        }
    }
}
