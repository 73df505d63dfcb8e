-- The ingress explains each connection state to the shop in French ("QR code expiré, relancez la connexion",
-- "numéro suspendu jusqu'au …"). The live event is not persisted, so the reason is kept next to the status for a
-- dashboard opened later.
alter table whatsapp_session add column status_detail text not null default '';
