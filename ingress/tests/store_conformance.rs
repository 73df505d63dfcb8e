//! Conformance of `PgSessionStore` with whatsapp-rust's storage contract.
//!
//! Every scenario in `scenarios` is written once against `Arc<dyn Backend>` and runs twice: against the
//! crate's `InMemoryBackend` (the reference) and against `PgSessionStore` through the RLS-bound app role.
//! The `postgres_only` tests cover what only a shared, encrypted database has: tenant isolation, tampering,
//! moved ciphertexts and plaintext leaks.

use std::sync::Arc;

use ingress::whatsapp::PgSessionStore;
use sqlx::PgPool;
use store::crypto::MasterKey;
use uuid::Uuid;
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::wacore::store::traits::Backend;

/// A fresh tenant's store on the app-role pool.
async fn open_store(pool: &PgPool, master: &MasterKey) -> PgSessionStore {
    let tenant_id = testkit::db::create_tenant(pool).await;
    let db = testkit::db::app_db(pool).await;
    PgSessionStore::open(&db, master, tenant_id)
        .await
        .expect("open the session store")
}

fn memory() -> Arc<dyn Backend> {
    Arc::new(InMemoryBackend::new())
}

async fn postgres(pool: &PgPool) -> Arc<dyn Backend> {
    Arc::new(open_store(pool, &MasterKey::generate()).await)
}

mod scenarios {
    use std::collections::HashMap;
    use std::sync::Arc;

    use whatsapp_rust::bytes::Bytes;
    use whatsapp_rust::wacore::appstate::hash::HashState;
    use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
    use whatsapp_rust::wacore::store::traits::*;
    use whatsapp_rust::wacore::time::now_secs;

    const ALICE: &str = "2250700000001@s.whatsapp.net";
    const ALICE_DEV: &str = "2250700000001:3@s.whatsapp.net";
    const BOB: &str = "2250700000002@s.whatsapp.net";
    const GROUP: &str = "120363021033254949@g.us";
    const OTHER_GROUP: &str = "120363021033254950@g.us";

    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort();
        v
    }

    pub async fn identities_round_trip_and_delete(b: Arc<dyn Backend>) {
        b.put_identity(ALICE, [1; 32]).await.expect("put");
        b.put_identities_batch(&[(Arc::from(BOB), [2; 32]), (Arc::from(ALICE_DEV), [3; 32])])
            .await
            .expect("batch");
        b.put_identity(ALICE, [4; 32]).await.expect("overwrite");

        assert_eq!(
            b.load_identity(ALICE).await.expect("load"),
            Some([4; 32]),
            "overwritten"
        );
        assert_eq!(
            b.load_identity(BOB).await.expect("load"),
            Some([2; 32]),
            "from the batch"
        );
        assert_eq!(
            b.load_identity("nobody@s.whatsapp.net")
                .await
                .expect("load"),
            None
        );
        b.delete_identity(ALICE).await.expect("delete");
        assert_eq!(b.load_identity(ALICE).await.expect("load"), None, "deleted");
        assert_eq!(
            b.load_identity(ALICE_DEV).await.expect("load"),
            Some([3; 32]),
            "device kept"
        );
    }

    pub async fn sessions_round_trip_with_batches_and_existence(b: Arc<dyn Backend>) {
        b.put_session(ALICE, b"alice-1").await.expect("put");
        b.put_sessions_batch(&[
            (Arc::from(BOB), Bytes::from_static(b"bob-1")),
            (Arc::from(ALICE), Bytes::from_static(b"alice-2")),
            (Arc::from(BOB), Bytes::from_static(b"bob-2")),
        ])
        .await
        .expect("batch naming a key twice");

        assert_eq!(
            b.get_session(ALICE).await.expect("get").as_deref(),
            Some(&b"alice-2"[..])
        );
        assert_eq!(
            b.get_session(BOB).await.expect("get").as_deref(),
            Some(&b"bob-2"[..]),
            "the last value of a repeated batch key wins"
        );
        assert!(b.has_session(ALICE).await.expect("has"));
        assert!(!b.has_session(ALICE_DEV).await.expect("has"));
        b.delete_session(ALICE).await.expect("delete");
        assert_eq!(b.get_session(ALICE).await.expect("get"), None);
        assert!(!b.has_session(ALICE).await.expect("has"));
        b.put_sessions_batch(&[])
            .await
            .expect("an empty batch is fine");
    }

    pub async fn signal_state_for_user_matches_all_devices_of_that_user_only(b: Arc<dyn Backend>) {
        b.put_session("111:2@s.whatsapp.net", b"s")
            .await
            .expect("put");
        b.put_identity("222@lid", [9; 32]).await.expect("put");

        for (user, expected) in [
            ("111", true),
            ("222", true),
            ("11", false),
            ("1112", false),
            ("333", false),
        ] {
            assert_eq!(
                b.has_signal_state_for_user(user).await.expect("query"),
                expected,
                "user {user}"
            );
        }
    }

    pub async fn prekeys_round_trip_and_report_the_max_id(b: Arc<dyn Backend>) {
        assert_eq!(b.get_max_prekey_id().await.expect("max"), 0, "empty store");
        b.store_prekey(5, b"pk5", false).await.expect("store");
        b.store_prekeys_batch(
            &[
                (7, Bytes::from_static(b"pk7")),
                (6, Bytes::from_static(b"pk6")),
            ],
            false,
        )
        .await
        .expect("batch");

        assert_eq!(
            b.load_prekey(7).await.expect("load").as_deref(),
            Some(&b"pk7"[..])
        );
        assert_eq!(b.load_prekey(8).await.expect("load"), None);
        assert_eq!(b.get_max_prekey_id().await.expect("max"), 7);
        let batch = b.load_prekeys_batch(&[8, 6, 5]).await.expect("load batch");
        assert_eq!(
            batch,
            vec![
                (6, Bytes::from_static(b"pk6")),
                (5, Bytes::from_static(b"pk5"))
            ],
            "only existing keys, in the order asked"
        );
        b.remove_prekey(7).await.expect("remove");
        assert_eq!(
            b.get_max_prekey_id().await.expect("max"),
            6,
            "max follows removals"
        );
    }

    pub async fn marking_prekeys_uploaded_never_resurrects_removed_ones(b: Arc<dyn Backend>) {
        b.store_prekeys_batch(
            &[(1, Bytes::from_static(b"a")), (2, Bytes::from_static(b"b"))],
            false,
        )
        .await
        .expect("store");
        b.remove_prekey(1)
            .await
            .expect("consumed before the upload finished");

        b.mark_prekeys_uploaded(&[1, 2, 3]).await.expect("mark");

        assert_eq!(
            b.load_prekey(1).await.expect("load"),
            None,
            "removed key stays removed"
        );
        assert_eq!(
            b.load_prekey(3).await.expect("load"),
            None,
            "unknown key is not created"
        );
        assert_eq!(
            b.load_prekey(2).await.expect("load").as_deref(),
            Some(&b"b"[..])
        );
        b.mark_prekeys_uploaded(&[]).await.expect("empty list");
    }

    pub async fn signed_prekeys_round_trip(b: Arc<dyn Backend>) {
        b.store_signed_prekey(2, b"spk2").await.expect("store");
        b.store_signed_prekey(1, b"spk1").await.expect("store");

        assert_eq!(
            b.load_signed_prekey(1).await.expect("load"),
            Some(b"spk1".to_vec())
        );
        assert_eq!(
            sorted(b.load_all_signed_prekeys().await.expect("all")),
            vec![(1, b"spk1".to_vec()), (2, b"spk2".to_vec())]
        );
        b.remove_signed_prekey(1).await.expect("remove");
        assert_eq!(b.load_signed_prekey(1).await.expect("load"), None);
        assert_eq!(b.load_all_signed_prekeys().await.expect("all").len(), 1);
    }

    pub async fn sender_keys_round_trip(b: Arc<dyn Backend>) {
        let address = format!("{GROUP}::{ALICE}");
        b.put_sender_key(&address, b"sk1").await.expect("put");
        b.put_sender_keys_batch(&[(Arc::from(BOB), Bytes::from_static(b"skb"))])
            .await
            .expect("batch");

        assert_eq!(
            b.get_sender_key(&address).await.expect("get"),
            Some(b"sk1".to_vec())
        );
        assert_eq!(
            b.get_sender_key(BOB).await.expect("get"),
            Some(b"skb".to_vec())
        );
        b.delete_sender_key(&address).await.expect("delete");
        assert_eq!(b.get_sender_key(&address).await.expect("get"), None);
    }

    fn sync_key(n: u8) -> AppStateSyncKey {
        AppStateSyncKey {
            key_data: vec![n; 32],
            fingerprint: vec![n, n],
            timestamp: i64::from(n),
        }
    }

    pub async fn sync_keys_round_trip_and_the_latest_is_the_last_written(b: Arc<dyn Backend>) {
        assert_eq!(b.get_latest_sync_key_id().await.expect("latest"), None);
        b.set_sync_key(b"key-b", sync_key(2)).await.expect("set");
        b.set_sync_key(b"key-a", sync_key(1)).await.expect("set");

        let got = b
            .get_sync_key(b"key-b")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(
            (got.key_data, got.fingerprint, got.timestamp),
            (vec![2; 32], vec![2, 2], 2)
        );
        assert!(b.get_sync_key(b"key-c").await.expect("get").is_none());
        assert_eq!(
            b.get_latest_sync_key_id().await.expect("latest"),
            Some(b"key-a".to_vec())
        );
        b.set_sync_key(b"key-b", sync_key(3))
            .await
            .expect("rewrite");
        assert_eq!(
            b.get_latest_sync_key_id().await.expect("latest"),
            Some(b"key-b".to_vec()),
            "rewriting a key makes it the latest"
        );
    }

    pub async fn app_state_versions_default_then_round_trip(b: Arc<dyn Backend>) {
        let fresh = b.get_version("regular").await.expect("get");
        assert_eq!(
            fresh.version, 0,
            "an unknown collection starts at version 0"
        );

        let mut state = HashState {
            version: 42,
            hash: [7; 128],
            ..HashState::default()
        };
        state.index_value_map.insert("idx".into(), vec![1, 2, 3]);
        b.set_version("regular", state).await.expect("set");

        let got = b.get_version("regular").await.expect("get");
        assert_eq!(got.version, 42);
        assert_eq!(got.hash, [7; 128]);
        assert_eq!(got.index_value_map.get("idx"), Some(&vec![1, 2, 3]));
        assert_eq!(
            b.get_version("critical_block").await.expect("get").version,
            0
        );
    }

    fn mac(index: u8, value: u8) -> AppStateMutationMAC {
        AppStateMutationMAC {
            index_mac: vec![index; 32],
            value_mac: vec![value; 32],
        }
    }

    pub async fn mutation_macs_round_trip_in_batches_and_clear_per_collection(b: Arc<dyn Backend>) {
        b.put_mutation_macs("regular", 1, &[mac(1, 10), mac(2, 20), mac(3, 30)])
            .await
            .expect("put");
        b.put_mutation_macs("critical", 1, &[mac(1, 11)])
            .await
            .expect("put");

        assert_eq!(
            b.get_mutation_mac("regular", &[1; 32]).await.expect("get"),
            Some(vec![10; 32])
        );
        assert_eq!(
            b.get_mutation_mac("critical", &[1; 32]).await.expect("get"),
            Some(vec![11; 32])
        );
        let batch = b
            .get_mutation_macs("regular", &[[1; 32], [3; 32], [9; 32]])
            .await
            .expect("batch");
        assert_eq!(
            batch,
            HashMap::from([([1; 32], vec![10; 32]), ([3; 32], vec![30; 32])]),
            "only the stored index MACs"
        );

        b.delete_mutation_macs("regular", &[vec![1; 32]])
            .await
            .expect("delete");
        assert_eq!(
            b.get_mutation_mac("regular", &[1; 32]).await.expect("get"),
            None
        );
        b.clear_mutation_macs("regular").await.expect("clear");
        assert_eq!(
            b.get_mutation_mac("regular", &[2; 32]).await.expect("get"),
            None
        );
        assert_eq!(
            b.get_mutation_mac("critical", &[1; 32]).await.expect("get"),
            Some(vec![11; 32]),
            "another collection survives the clear"
        );
    }

    pub async fn sender_key_device_status_per_group(b: Arc<dyn Backend>) {
        b.set_sender_key_status(GROUP, &[(ALICE_DEV, true), (BOB, false)])
            .await
            .expect("set");
        b.set_sender_key_status(OTHER_GROUP, &[(ALICE_DEV, true)])
            .await
            .expect("set");
        b.set_sender_key_status(GROUP, &[(BOB, true)])
            .await
            .expect("update");

        assert_eq!(
            sorted(b.get_sender_key_devices(GROUP).await.expect("get")),
            vec![(ALICE_DEV.to_string(), true), (BOB.to_string(), true)]
        );
        b.delete_sender_key_device_rows(&[ALICE_DEV])
            .await
            .expect("delete across groups");
        assert_eq!(
            b.get_sender_key_devices(GROUP).await.expect("get"),
            vec![(BOB.to_string(), true)]
        );
        assert!(
            b.get_sender_key_devices(OTHER_GROUP)
                .await
                .expect("get")
                .is_empty()
        );

        b.set_sender_key_status(OTHER_GROUP, &[(BOB, false)])
            .await
            .expect("set");
        b.clear_sender_key_devices(GROUP)
            .await
            .expect("clear one group");
        assert!(
            b.get_sender_key_devices(GROUP)
                .await
                .expect("get")
                .is_empty()
        );
        assert_eq!(
            b.get_sender_key_devices(OTHER_GROUP)
                .await
                .expect("get")
                .len(),
            1
        );
        b.clear_all_sender_key_devices().await.expect("clear all");
        assert!(
            b.get_sender_key_devices(OTHER_GROUP)
                .await
                .expect("get")
                .is_empty()
        );
    }

    fn mapping(lid: &str, phone: &str, at: i64) -> LidPnMappingEntry {
        LidPnMappingEntry {
            lid: lid.into(),
            phone_number: phone.into(),
            created_at: at,
            updated_at: at,
            learning_source: "usync".into(),
        }
    }

    pub async fn lid_mappings_resolve_both_ways(b: Arc<dyn Backend>) {
        b.put_lid_mapping(&mapping("100000012345678", "2250700000001", 100))
            .await
            .expect("put");
        b.put_lid_mappings(&[mapping("100000099999999", "2250700000002", 100)])
            .await
            .expect("batch");

        let by_lid = b
            .get_lid_mapping("100000012345678")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(by_lid.phone_number, "2250700000001");
        let by_pn = b
            .get_pn_mapping("2250700000002")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(by_pn.lid, "100000099999999");
        assert!(
            b.get_pn_mapping("2250799999999")
                .await
                .expect("get")
                .is_none()
        );

        b.put_lid_mapping(&mapping("100000012345678", "2250700000003", 200))
            .await
            .expect("remap");
        assert!(
            b.get_pn_mapping("2250700000001")
                .await
                .expect("get")
                .is_none(),
            "the old number no longer resolves"
        );
        assert_eq!(
            b.get_pn_mapping("2250700000003")
                .await
                .expect("get")
                .expect("present")
                .lid,
            "100000012345678"
        );
        b.put_lid_mapping(&mapping("100000055555555", "2250700000003", 300))
            .await
            .expect("newer LID");
        assert_eq!(
            b.get_pn_mapping("2250700000003")
                .await
                .expect("get")
                .expect("present")
                .lid,
            "100000055555555",
            "the most recent LID wins a phone lookup"
        );
        let mut all: Vec<String> = b
            .get_all_lid_mappings()
            .await
            .expect("all")
            .into_iter()
            .map(|m| m.lid)
            .collect();
        all.sort();
        assert_eq!(
            all,
            vec!["100000012345678", "100000055555555", "100000099999999"]
        );
    }

    pub async fn base_keys_compare_and_delete(b: Arc<dyn Backend>) {
        b.save_base_key(ALICE, "MSG1", b"base").await.expect("save");

        assert!(
            b.has_same_base_key(ALICE, "MSG1", b"base")
                .await
                .expect("cmp")
        );
        assert!(
            !b.has_same_base_key(ALICE, "MSG1", b"other")
                .await
                .expect("cmp")
        );
        assert!(
            !b.has_same_base_key(ALICE, "MSG2", b"base")
                .await
                .expect("cmp")
        );
        b.delete_base_key(ALICE, "MSG1").await.expect("delete");
        assert!(
            !b.has_same_base_key(ALICE, "MSG1", b"base")
                .await
                .expect("cmp")
        );
    }

    fn device_list(user: &str, devices: &[u32], timestamp: i64) -> DeviceListRecord {
        DeviceListRecord {
            user: user.into(),
            devices: devices
                .iter()
                .map(|&d| DeviceInfo::new(d, Some(d)))
                .collect(),
            timestamp,
            phash: Some("2:abc".into()),
            raw_id: Some(7),
        }
    }

    pub async fn device_lists_round_trip_in_batches(b: Arc<dyn Backend>) {
        b.update_device_list(device_list("2250700000001", &[0, 1], 10))
            .await
            .expect("put");
        b.update_device_lists(vec![
            device_list("2250700000002", &[0], 10),
            device_list("2250700000001", &[0, 1, 2], 20),
        ])
        .await
        .expect("batch");

        let alice = b
            .get_devices("2250700000001")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(
            (alice.devices.len(), alice.timestamp, alice.raw_id),
            (3, 20, Some(7))
        );
        assert!(b.get_devices("2250700000002").await.expect("get").is_some());
        b.delete_devices("2250700000001").await.expect("delete");
        assert!(b.get_devices("2250700000001").await.expect("get").is_none());
    }

    pub async fn group_metadata_round_trips(b: Arc<dyn Backend>) {
        assert!(b.get_group_metadata(GROUP).await.expect("get").is_none());
        b.put_group_metadata(GROUP, b"v1").await.expect("put");
        b.put_group_metadata(GROUP, b"v2").await.expect("put");
        assert_eq!(
            b.get_group_metadata(GROUP).await.expect("get"),
            Some(b"v2".to_vec())
        );
        b.delete_group_metadata(GROUP).await.expect("delete");
        assert!(b.get_group_metadata(GROUP).await.expect("get").is_none());
    }

    pub async fn tc_tokens_round_trip_and_list(b: Arc<dyn Backend>) {
        let entry = TcTokenEntry {
            token: b"tok".to_vec(),
            token_timestamp: 100,
            sender_timestamp: Some(90),
        };
        b.put_tc_token(ALICE, &entry).await.expect("put");
        b.put_tc_token(
            BOB,
            &TcTokenEntry {
                sender_timestamp: None,
                ..entry.clone()
            },
        )
        .await
        .expect("put");

        let got = b.get_tc_token(ALICE).await.expect("get").expect("present");
        assert_eq!(
            (got.token, got.token_timestamp, got.sender_timestamp),
            (b"tok".to_vec(), 100, Some(90))
        );
        assert_eq!(
            sorted(b.get_all_tc_token_jids().await.expect("jids")),
            vec![ALICE.to_string(), BOB.to_string()]
        );
        b.delete_tc_token(ALICE).await.expect("delete");
        assert!(b.get_tc_token(ALICE).await.expect("get").is_none());
    }

    pub async fn received_tc_tokens_are_newer_wins_and_keep_the_sender_time(b: Arc<dyn Backend>) {
        b.touch_tc_token_sender_timestamp(ALICE, 50)
            .await
            .expect("placeholder");
        let placeholder = b.get_tc_token(ALICE).await.expect("get").expect("present");
        assert!(
            placeholder.token.is_empty(),
            "touch inserts a byte-less placeholder"
        );

        b.store_received_tc_token(ALICE, b"t1", 10)
            .await
            .expect("store");
        let got = b.get_tc_token(ALICE).await.expect("get").expect("present");
        assert_eq!(
            (got.token, got.token_timestamp, got.sender_timestamp),
            (b"t1".to_vec(), 10, Some(50)),
            "a placeholder never blocks the first real token, even an older one"
        );

        b.store_received_tc_token(ALICE, b"stale", 5)
            .await
            .expect("stale");
        assert_eq!(
            b.get_tc_token(ALICE)
                .await
                .expect("get")
                .expect("present")
                .token,
            b"t1".to_vec(),
            "stale write ignored"
        );
        b.store_received_tc_token(ALICE, b"t2", 10)
            .await
            .expect("same time");
        assert_eq!(
            b.get_tc_token(ALICE)
                .await
                .expect("get")
                .expect("present")
                .token,
            b"t2".to_vec(),
            "equal time wins"
        );

        b.touch_tc_token_sender_timestamp(ALICE, 40)
            .await
            .expect("older touch");
        b.touch_tc_token_sender_timestamp(ALICE, 70)
            .await
            .expect("newer touch");
        let got = b.get_tc_token(ALICE).await.expect("get").expect("present");
        assert_eq!(
            (got.token, got.token_timestamp, got.sender_timestamp),
            (b"t2".to_vec(), 10, Some(70)),
            "touch only advances the sender time and keeps the token"
        );
    }

    pub async fn expired_tc_tokens_go_only_when_both_windows_are_dead(b: Arc<dyn Backend>) {
        let put = |token: &'static [u8], ts: i64, sender: Option<i64>| TcTokenEntry {
            token: token.to_vec(),
            token_timestamp: ts,
            sender_timestamp: sender,
        };
        b.put_tc_token("a@lid", &put(b"t", 10, None))
            .await
            .expect("put"); // both dead
        b.put_tc_token("b@lid", &put(b"t", 100, None))
            .await
            .expect("put"); // token live
        b.put_tc_token("c@lid", &put(b"t", 10, Some(100)))
            .await
            .expect("put"); // sender live
        b.put_tc_token("d@lid", &put(b"", 100, Some(10)))
            .await
            .expect("put"); // placeholder, sender dead

        let deleted = b.delete_expired_tc_tokens(50, 50).await.expect("sweep");

        assert_eq!(deleted, 2);
        assert_eq!(
            sorted(b.get_all_tc_token_jids().await.expect("jids")),
            vec!["b@lid", "c@lid"]
        );
    }

    pub async fn sent_messages_are_taken_once_and_expire(b: Arc<dyn Backend>) {
        b.store_sent_message(ALICE, "M1", b"payload-1")
            .await
            .expect("store");
        b.store_sent_message(ALICE, "M2", b"payload-2")
            .await
            .expect("store");

        assert_eq!(
            b.take_sent_message(ALICE, "M1").await.expect("take"),
            Some(b"payload-1".to_vec())
        );
        assert_eq!(
            b.take_sent_message(ALICE, "M1").await.expect("take"),
            None,
            "a take consumes"
        );
        assert_eq!(
            b.take_sent_message(BOB, "M2").await.expect("take"),
            None,
            "scoped by chat"
        );
        assert_eq!(
            b.delete_expired_sent_messages(now_secs() - 3600)
                .await
                .expect("sweep"),
            0,
            "recent kept"
        );
        assert_eq!(
            b.delete_expired_sent_messages(now_secs() + 3600)
                .await
                .expect("sweep"),
            1
        );
        assert_eq!(b.take_sent_message(ALICE, "M2").await.expect("take"), None);
    }

    pub async fn concurrent_takes_hand_the_payload_to_exactly_one(b: Arc<dyn Backend>) {
        b.store_sent_message(ALICE, "RACE", b"once")
            .await
            .expect("store");

        let mut takes = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let b = Arc::clone(&b);
            takes.spawn(async move { b.take_sent_message(ALICE, "RACE").await });
        }
        let mut winners = 0;
        while let Some(result) = takes.join_next().await {
            if result.expect("task").expect("take").is_some() {
                winners += 1;
            }
        }

        assert_eq!(winners, 1, "exactly one concurrent take gets the payload");
    }

    pub async fn pending_inbound_buffer_round_trips_in_batches_and_expires(b: Arc<dyn Backend>) {
        b.store_pending_inbound(ALICE, ALICE, "IN1", b"m1")
            .await
            .expect("store");
        b.store_pending_inbound_batch(&[
            PendingInboundRow {
                chat: GROUP,
                sender: ALICE,
                id: "IN2",
                message: b"m2",
            },
            PendingInboundRow {
                chat: GROUP,
                sender: BOB,
                id: "IN2",
                message: b"m3",
            },
        ])
        .await
        .expect("batch");

        assert_eq!(
            b.get_pending_inbound(ALICE, ALICE, "IN1")
                .await
                .expect("get"),
            Some(b"m1".to_vec())
        );
        assert_eq!(
            b.get_pending_inbound(GROUP, BOB, "IN2").await.expect("get"),
            Some(b"m3".to_vec()),
            "scoped by sender"
        );
        b.delete_pending_inbound(ALICE, ALICE, "IN1")
            .await
            .expect("delete");
        assert_eq!(
            b.get_pending_inbound(ALICE, ALICE, "IN1")
                .await
                .expect("get"),
            None
        );
        b.delete_pending_inbound_batch(&[PendingInboundKey {
            chat: GROUP,
            sender: ALICE,
            id: "IN2",
        }])
        .await
        .expect("batch delete");
        assert_eq!(
            b.get_pending_inbound(GROUP, ALICE, "IN2")
                .await
                .expect("get"),
            None
        );
        assert_eq!(
            b.delete_expired_pending_inbound(now_secs() - 3600)
                .await
                .expect("sweep"),
            0
        );
        assert_eq!(
            b.delete_expired_pending_inbound(now_secs() + 3600)
                .await
                .expect("sweep"),
            1
        );
        assert_eq!(
            b.get_pending_inbound(GROUP, BOB, "IN2").await.expect("get"),
            None
        );
    }

    fn secret(
        chat: &str,
        sender: &str,
        id: &str,
        byte: u8,
        expires_at: i64,
        message_ts: i64,
    ) -> MsgSecretEntry {
        MsgSecretEntry {
            chat: Arc::from(chat),
            sender: Arc::from(sender),
            msg_id: Arc::from(id),
            secret: [byte; 32],
            expires_at,
            message_ts,
        }
    }

    pub async fn msg_secrets_round_trip_merge_and_expire(b: Arc<dyn Backend>) {
        b.put_msg_secret(ALICE, ALICE, "P0", &[9; 32])
            .await
            .expect("put without expiry");
        let stored = b
            .put_msg_secrets(vec![
                secret(ALICE, ALICE, "P1", 1, 100, 0),
                secret(ALICE, BOB, "P1", 2, 100, 50),
                secret(ALICE, ALICE, "P1", 3, 80, 40),
            ])
            .await
            .expect("batch naming a key twice");

        assert_eq!(stored, 3);
        assert_eq!(
            b.get_msg_secret(ALICE, ALICE, "P0").await.expect("get"),
            Some(vec![9; 32])
        );
        assert_eq!(
            b.get_msg_secret_with_ts(ALICE, ALICE, "P1")
                .await
                .expect("get"),
            Some((vec![3; 32], 40)),
            "the later secret and the known parent time"
        );
        assert_eq!(
            b.get_msg_secret_with_ts(ALICE, BOB, "P1")
                .await
                .expect("get"),
            Some((vec![2; 32], 50)),
            "scoped by sender"
        );
        assert_eq!(b.get_msg_secret(BOB, BOB, "P1").await.expect("get"), None);

        b.put_msg_secrets(vec![secret(ALICE, BOB, "P1", 4, 300, 0)])
            .await
            .expect("re-put");
        assert_eq!(
            b.get_msg_secret_with_ts(ALICE, BOB, "P1")
                .await
                .expect("get"),
            Some((vec![4; 32], 50)),
            "an unknown parent time never clobbers a known one"
        );

        let deleted = b.delete_expired_msg_secrets(100).await.expect("sweep");
        assert_eq!(
            deleted, 1,
            "P1 from ALICE (deadline 100, kept later) goes; never-expiring P0 and BOB's 300 stay"
        );
        assert!(
            b.get_msg_secret(ALICE, ALICE, "P1")
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            b.get_msg_secret(ALICE, ALICE, "P0")
                .await
                .expect("get")
                .is_some()
        );
        assert!(
            b.get_msg_secret(ALICE, BOB, "P1")
                .await
                .expect("get")
                .is_some(),
            "a later deadline won the merge"
        );
    }

    pub async fn device_is_created_saved_and_loaded(b: Arc<dyn Backend>) {
        assert!(!b.exists().await.expect("exists"));
        assert!(b.load().await.expect("load").is_none());

        b.create().await.expect("create");
        assert!(
            b.exists().await.expect("exists"),
            "create materialises a device"
        );
        let mut device = b.load().await.expect("load").expect("created device");
        device.push_name = "Boutique Awa".into();
        device.next_pre_key_id = 812;
        device.pn = Some("2250700000009@s.whatsapp.net".parse().expect("jid"));
        b.save(&device).await.expect("save");

        let loaded = b.load().await.expect("load").expect("saved device");
        assert_eq!(
            serde_json::to_value(&loaded).expect("json"),
            serde_json::to_value(&device).expect("json"),
            "every persisted field round-trips"
        );
        assert_eq!(
            loaded.identity_key.public_key,
            device.identity_key.public_key
        );
    }
}

/// Generates, per scenario, one test on the reference backend and one on Postgres.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::scenarios::$name(super::memory()).await;
                }
            )*
        }
        mod postgres {
            use sqlx::PgPool;
            $(
                #[sqlx::test(migrator = "store::MIGRATOR")]
                async fn $name(pool: PgPool) {
                    super::scenarios::$name(super::postgres(&pool).await).await;
                }
            )*
        }
    };
}

conformance!(
    identities_round_trip_and_delete,
    sessions_round_trip_with_batches_and_existence,
    signal_state_for_user_matches_all_devices_of_that_user_only,
    prekeys_round_trip_and_report_the_max_id,
    marking_prekeys_uploaded_never_resurrects_removed_ones,
    signed_prekeys_round_trip,
    sender_keys_round_trip,
    sync_keys_round_trip_and_the_latest_is_the_last_written,
    app_state_versions_default_then_round_trip,
    mutation_macs_round_trip_in_batches_and_clear_per_collection,
    sender_key_device_status_per_group,
    lid_mappings_resolve_both_ways,
    base_keys_compare_and_delete,
    device_lists_round_trip_in_batches,
    group_metadata_round_trips,
    tc_tokens_round_trip_and_list,
    received_tc_tokens_are_newer_wins_and_keep_the_sender_time,
    expired_tc_tokens_go_only_when_both_windows_are_dead,
    sent_messages_are_taken_once_and_expire,
    concurrent_takes_hand_the_payload_to_exactly_one,
    pending_inbound_buffer_round_trips_in_batches_and_expires,
    msg_secrets_round_trip_merge_and_expire,
    device_is_created_saved_and_loaded,
);

mod postgres_only {
    use super::*;
    use whatsapp_rust::wacore::store::error::StoreError;
    use whatsapp_rust::wacore::store::traits::*;

    const ALICE: &str = "2250700000001@s.whatsapp.net";
    const BOB: &str = "2250700000002@s.whatsapp.net";

    async fn two_tenants(pool: &PgPool) -> (PgSessionStore, PgSessionStore) {
        let master = MasterKey::generate();
        (
            open_store(pool, &master).await,
            open_store(pool, &master).await,
        )
    }

    async fn sealed_of(pool: &PgPool, tenant_id: Uuid, ns: i16) -> Vec<(Vec<u8>, Vec<u8>)> {
        sqlx::query_as("select k, sealed from wa_kv where tenant_id = $1 and ns = $2 order by k")
            .bind(tenant_id)
            .bind(ns)
            .fetch_all(pool)
            .await
            .expect("read as superuser")
    }

    const NS_SESSION: i16 = 2;

    #[sqlx::test(migrator = "store::MIGRATOR")]
    async fn tenants_never_see_each_others_session_state(pool: PgPool) {
        let (a, b) = two_tenants(&pool).await;
        a.put_session(ALICE, b"a-session").await.expect("put");
        a.store_prekey(1, b"a-prekey", false).await.expect("put");
        a.store_sent_message(ALICE, "M1", b"a-payload")
            .await
            .expect("put");
        a.create().await.expect("device");

        assert_eq!(
            b.get_session(ALICE).await.expect("get"),
            None,
            "same address, other tenant"
        );
        assert_eq!(
            b.load_prekey(1).await.expect("get"),
            None,
            "same pre-key id, other tenant"
        );
        assert_eq!(b.get_max_prekey_id().await.expect("max"), 0);
        assert_eq!(b.take_sent_message(ALICE, "M1").await.expect("take"), None);
        assert!(!b.exists().await.expect("exists"));
        assert!(
            !b.has_signal_state_for_user("2250700000001")
                .await
                .expect("has")
        );

        b.put_session(ALICE, b"b-session").await.expect("put");
        b.store_prekey(1, b"b-prekey", true).await.expect("put");
        b.wipe().await.expect("wipe B");

        assert_eq!(
            a.get_session(ALICE).await.expect("get").as_deref(),
            Some(&b"a-session"[..]),
            "B's writes and wipe leave A alone"
        );
        assert_eq!(
            a.load_prekey(1).await.expect("get").as_deref(),
            Some(&b"a-prekey"[..])
        );
        assert_eq!(
            a.take_sent_message(ALICE, "M1").await.expect("take"),
            Some(b"a-payload".to_vec())
        );
    }

    #[sqlx::test(migrator = "store::MIGRATOR")]
    async fn wipe_deletes_every_session_row_of_the_tenant(pool: PgPool) {
        let (a, _) = two_tenants(&pool).await;
        a.put_session(ALICE, b"s").await.expect("put");
        a.put_msg_secret(ALICE, ALICE, "X", &[1; 32])
            .await
            .expect("put");
        a.create().await.expect("device");

        a.wipe().await.expect("wipe");

        let rows: i64 = sqlx::query_scalar(
            "select (select count(*) from wa_kv where tenant_id = $1) + (select count(*) from wa_device where tenant_id = $1)",
        )
        .bind(a.tenant_id())
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(rows, 0);
        assert!(!a.exists().await.expect("exists"));
    }

    #[sqlx::test(migrator = "store::MIGRATOR")]
    async fn a_tampered_ciphertext_is_an_error_not_data(pool: PgPool) {
        let (a, _) = two_tenants(&pool).await;
        a.put_session(ALICE, b"session-record").await.expect("put");
        a.create().await.expect("device");
        sqlx::query(
            "update wa_kv set sealed = set_byte(sealed, 20, get_byte(sealed, 20) # 1) where tenant_id = $1",
        )
        .bind(a.tenant_id())
        .execute(&pool)
        .await
        .expect("flip a byte");
        sqlx::query("update wa_device set sealed = set_byte(sealed, 30, get_byte(sealed, 30) # 1) where tenant_id = $1")
            .bind(a.tenant_id())
            .execute(&pool)
            .await
            .expect("flip a byte");

        let session = a.get_session(ALICE).await;
        let device = a.load().await;

        assert!(
            matches!(session, Err(StoreError::Serialization(_))),
            "got {session:?}"
        );
        assert!(device.is_err(), "a tampered device row must not load");
    }

    #[sqlx::test(migrator = "store::MIGRATOR")]
    async fn a_ciphertext_moved_to_another_row_or_tenant_does_not_open(pool: PgPool) {
        let (a, b) = two_tenants(&pool).await;
        a.put_session(ALICE, b"alice-session").await.expect("put");
        a.put_session(BOB, b"bob-session").await.expect("put");
        b.put_session(ALICE, b"b-alice-session").await.expect("put");
        a.create().await.expect("device");
        b.create().await.expect("device");
        let a_rows = sealed_of(&pool, a.tenant_id(), NS_SESSION).await;
        let b_rows = sealed_of(&pool, b.tenant_id(), NS_SESSION).await;
        let (a_first_k, a_first_sealed) = a_rows[0].clone();
        let (a_second_k, _) = a_rows[1].clone();

        // Within tenant A: one row's value copied into the other row.
        sqlx::query("update wa_kv set sealed = $3 where tenant_id = $1 and ns = 2 and k = $2")
            .bind(a.tenant_id())
            .bind(&a_second_k)
            .bind(&a_first_sealed)
            .execute(&pool)
            .await
            .expect("copy within tenant");
        // Across tenants: A's value into B's row, and A's device into B's device row.
        sqlx::query("update wa_kv set sealed = $3 where tenant_id = $1 and ns = 2 and k = $2")
            .bind(b.tenant_id())
            .bind(&b_rows[0].0)
            .bind(&a_first_sealed)
            .execute(&pool)
            .await
            .expect("copy across tenants");
        sqlx::query("update wa_device set sealed = (select sealed from wa_device where tenant_id = $1) where tenant_id = $2")
            .bind(a.tenant_id())
            .bind(b.tenant_id())
            .execute(&pool)
            .await
            .expect("copy device");

        let a_results = [a.get_session(ALICE).await, a.get_session(BOB).await];
        let opened = a_results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            opened, 1,
            "only the untouched row of A opens: {a_results:?}"
        );
        assert!(
            b.get_session(ALICE).await.is_err(),
            "A's ciphertext in B's row is an error, not A's data"
        );
        assert!(b.load().await.is_err(), "A's device in B's row is an error");
        assert_ne!(
            a_first_k, b_rows[0].0,
            "the same address hashes differently per tenant"
        );
    }

    #[sqlx::test(migrator = "store::MIGRATOR")]
    async fn no_plaintext_secret_or_phone_number_is_stored(pool: PgPool) {
        let (a, _) = two_tenants(&pool).await;
        let record = b"PLAINTEXT-SESSION-RECORD-0123456789";
        let phone = "2250777123456";
        a.put_session(&format!("{phone}:2@s.whatsapp.net"), record)
            .await
            .expect("put");
        a.put_identity(
            &format!("{phone}@s.whatsapp.net"),
            *b"IDENTITY-KEY-IDENTITY-KEY-IDENTI",
        )
        .await
        .expect("put");
        a.put_lid_mapping(&LidPnMappingEntry {
            lid: "100000012345678".into(),
            phone_number: phone.into(),
            created_at: 1,
            updated_at: 1,
            learning_source: "usync".into(),
        })
        .await
        .expect("put");
        a.store_received_tc_token(&format!("{phone}@s.whatsapp.net"), b"TC-TOKEN-BYTES", 5)
            .await
            .expect("put");
        let mut device = whatsapp_rust::wacore::store::Device::new();
        device.push_name = "PUSHNAME-Boutique".into();
        a.save(&device).await.expect("save");

        let dump: Vec<u8> = sqlx::query_scalar(
            "select string_agg(k || sealed || coalesce(grp, '') || coalesce(member, ''), '') from wa_kv",
        )
        .fetch_one(&pool)
        .await
        .expect("dump");
        let device_dump: Vec<u8> = sqlx::query_scalar("select sealed from wa_device")
            .fetch_one(&pool)
            .await
            .expect("dump");

        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        for needle in [
            &record[..],
            phone.as_bytes(),
            b"100000012345678",
            b"IDENTITY-KEY",
            b"TC-TOKEN-BYTES",
        ] {
            assert!(
                !contains(&dump, needle),
                "{} leaked into wa_kv",
                String::from_utf8_lossy(needle)
            );
        }
        assert!(
            !contains(&device_dump, b"PUSHNAME-Boutique"),
            "device fields are sealed"
        );
        assert!(
            !contains(
                &device_dump,
                device.identity_key.private_key.serialize().as_slice()
            ),
            "private key is sealed"
        );
    }

    #[sqlx::test(migrator = "store::MIGRATOR")]
    async fn session_rows_are_reachable_only_through_the_tenant_of_the_app_role(pool: PgPool) {
        let (a, b) = two_tenants(&pool).await;
        a.put_session(ALICE, b"s").await.expect("put");
        a.create().await.expect("device");
        let app = testkit::db::app_role_pool(&pool, 5).await;

        let no_tenant: i64 = sqlx::query_scalar("select count(*) from wa_kv")
            .fetch_one(&app)
            .await
            .expect("count");
        let mut tx = app.begin().await.expect("begin");
        sqlx::query("select set_config('app.tenant_id', $1, true)")
            .bind(b.tenant_id().to_string())
            .execute(&mut *tx)
            .await
            .expect("as B");
        let as_b: i64 = sqlx::query_scalar(
            "select (select count(*) from wa_kv) + (select count(*) from wa_device)",
        )
        .fetch_one(&mut *tx)
        .await
        .expect("count");
        let forged = sqlx::query(
            "insert into wa_kv (tenant_id, ns, k, sealed) values ($1, 2, '\\x01', '\\x01')",
        )
        .bind(a.tenant_id())
        .execute(&mut *tx)
        .await;
        drop(tx);
        let as_superuser: i64 = sqlx::query_scalar("select count(*) from wa_kv")
            .fetch_one(&pool)
            .await
            .expect("count");

        assert_eq!(no_tenant, 0, "the app role without a tenant sees nothing");
        assert_eq!(as_b, 0, "tenant B sees none of A's rows");
        assert!(forged.is_err(), "tenant B cannot write a row for A");
        assert_eq!(as_superuser, 1, "the row exists");
    }
}
