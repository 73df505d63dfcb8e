//! One typed request per REST operation the tests call, named after the operation, so test bodies say what
//! they do instead of spelling paths. Each returns the response; an `_ok` variant asserts success and returns
//! the JSON. Tests whose point is the path itself (malformed ids, route tables, CORS) keep literal paths and
//! `TestApp::request`.

use reqwest::{Method, Response};
use serde_json::Value;

use super::{Shop, TestApp};

/// Whoever a request is made as: a shop's owner, or anyone holding a token.
pub trait Bearer {
    fn token(&self) -> &str;
}

impl Bearer for Shop {
    fn token(&self) -> &str {
        &self.token
    }
}

impl Bearer for str {
    fn token(&self) -> &str {
        self
    }
}

impl Bearer for String {
    fn token(&self) -> &str {
        self
    }
}

/// Query parameters, encoded by the client.
pub type Query<'a> = &'a [(&'a str, &'a str)];

impl TestApp {
    /// A request as `who` (none when `None`), with optional query parameters and JSON body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        who: Option<&str>,
        query: Query<'_>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .query(query);
        if let Some(token) = who {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    async fn get_as(&self, who: &(impl Bearer + ?Sized), path: &str, query: Query<'_>) -> Response {
        self.call(Method::GET, path, Some(who.token()), query, None)
            .await
    }

    async fn send_as(
        &self,
        method: Method,
        who: &(impl Bearer + ?Sized),
        path: &str,
        body: Option<Value>,
    ) -> Response {
        self.call(method, path, Some(who.token()), &[], body).await
    }

    // Accounts

    /// `POST /api/v1/auth/signup`.
    pub async fn signup_with(&self, body: Value) -> Response {
        self.call(Method::POST, "/api/v1/auth/signup", None, &[], Some(body))
            .await
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        let body = serde_json::json!({ "email": email, "password": password });
        self.call(Method::POST, "/api/v1/auth/login", None, &[], Some(body))
            .await
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/me", &[]).await
    }

    /// `POST /api/v1/me/password`.
    pub async fn change_password(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        self.send_as(Method::POST, who, "/api/v1/me/password", Some(body))
            .await
    }

    /// `POST /api/v1/auth/password/forgot`.
    pub async fn forgot_password(&self, email: &str) -> Response {
        let body = serde_json::json!({ "email": email });
        let path = "/api/v1/auth/password/forgot";
        self.call(Method::POST, path, None, &[], Some(body)).await
    }

    /// `POST /api/v1/auth/password/reset`.
    pub async fn reset_password(&self, body: Value) -> Response {
        let path = "/api/v1/auth/password/reset";
        self.call(Method::POST, path, None, &[], Some(body)).await
    }

    // Catalogue

    /// `GET /api/v1/products`.
    pub async fn list_products(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.list_products_with(who, &[]).await
    }

    /// `GET /api/v1/products?…` (search, filters, page).
    pub async fn list_products_with(
        &self,
        who: &(impl Bearer + ?Sized),
        query: Query<'_>,
    ) -> Response {
        self.get_as(who, "/api/v1/products", query).await
    }

    /// `POST /api/v1/products`.
    pub async fn create_product(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        self.send_as(Method::POST, who, "/api/v1/products", Some(body))
            .await
    }

    /// `GET /api/v1/products/{id}`.
    pub async fn read_product(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        self.get_as(who, &format!("/api/v1/products/{id}"), &[])
            .await
    }

    /// `PATCH /api/v1/products/{id}`.
    pub async fn update_product(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/products/{id}");
        self.send_as(Method::PATCH, who, &path, Some(body)).await
    }

    /// `DELETE /api/v1/products/{id}`.
    pub async fn delete_product(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        let path = format!("/api/v1/products/{id}");
        self.send_as(Method::DELETE, who, &path, None).await
    }

    /// `GET /api/v1/products/export.csv`.
    pub async fn export_products(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/products/export.csv", &[]).await
    }

    /// `POST /api/v1/products/import` with a CSV body.
    pub async fn import_products(
        &self,
        who: &(impl Bearer + ?Sized),
        csv: &str,
        query: Query<'_>,
    ) -> Response {
        self.client
            .post(format!("{}/api/v1/products/import", self.address))
            .query(query)
            .bearer_auth(who.token())
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .expect("request sent")
    }

    // The bot

    /// `GET /api/v1/bot`.
    pub async fn read_bot(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/bot", &[]).await
    }

    /// `PUT /api/v1/bot`: the whole settings.
    pub async fn replace_bot(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        self.send_as(Method::PUT, who, "/api/v1/bot", Some(body))
            .await
    }

    /// `PATCH /api/v1/bot`: some settings.
    pub async fn update_bot(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        self.send_as(Method::PATCH, who, "/api/v1/bot", Some(body))
            .await
    }

    // Conversations

    /// `POST /api/v1/simulator/messages`: a customer's message through the simulator.
    pub async fn simulate_message(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        let path = "/api/v1/simulator/messages";
        self.send_as(Method::POST, who, path, Some(body)).await
    }

    /// `GET /api/v1/conversations`.
    pub async fn list_conversations(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/conversations", &[]).await
    }

    /// `GET /api/v1/conversations/{chat}/messages` (by chat id or chat key).
    pub async fn conversation_messages(
        &self,
        who: &(impl Bearer + ?Sized),
        chat: &str,
    ) -> Response {
        self.conversation_messages_with(who, chat, &[]).await
    }

    /// `GET /api/v1/conversations/{chat}/messages?…` (page).
    pub async fn conversation_messages_with(
        &self,
        who: &(impl Bearer + ?Sized),
        chat: &str,
        query: Query<'_>,
    ) -> Response {
        let path = format!("/api/v1/conversations/{chat}/messages");
        self.get_as(who, &path, query).await
    }

    /// `POST /api/v1/conversations/{chat}/messages`: the owner's own reply.
    pub async fn reply_in_conversation(
        &self,
        who: &(impl Bearer + ?Sized),
        chat: &str,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/conversations/{chat}/messages");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    /// `PUT /api/v1/conversations/{chat}/bot`: pauses or resumes the bot in one chat.
    pub async fn set_conversation_bot(
        &self,
        who: &(impl Bearer + ?Sized),
        chat: &str,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/conversations/{chat}/bot");
        self.send_as(Method::PUT, who, &path, Some(body)).await
    }

    // Orders

    /// `GET /api/v1/orders`.
    pub async fn list_orders(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.list_orders_with(who, &[]).await
    }

    /// `GET /api/v1/orders?…` (filters).
    pub async fn list_orders_with(
        &self,
        who: &(impl Bearer + ?Sized),
        query: Query<'_>,
    ) -> Response {
        self.get_as(who, "/api/v1/orders", query).await
    }

    /// `GET /api/v1/orders/{id}`.
    pub async fn read_order(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        self.get_as(who, &format!("/api/v1/orders/{id}"), &[]).await
    }

    /// `PATCH /api/v1/orders/{id}`.
    pub async fn update_order(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/orders/{id}");
        self.send_as(Method::PATCH, who, &path, Some(body)).await
    }

    // WhatsApp

    /// `GET /api/v1/whatsapp`.
    pub async fn whatsapp_status(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/whatsapp", &[]).await
    }

    /// `POST /api/v1/whatsapp/connect` with the default mode (QR code).
    pub async fn connect_whatsapp(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.connect_whatsapp_with(who, serde_json::json!({})).await
    }

    /// `POST /api/v1/whatsapp/logout`.
    pub async fn logout_whatsapp(&self, who: &(impl Bearer + ?Sized)) -> Response {
        let path = "/api/v1/whatsapp/logout";
        self.send_as(Method::POST, who, path, None).await
    }

    /// `GET /api/v1/whatsapp/events`: the event stream, open.
    pub async fn whatsapp_events(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/whatsapp/events", &[]).await
    }

    /// `POST /api/v1/whatsapp/sandbox/scan`: the sandbox phone scans the QR code.
    pub async fn sandbox_scan(&self, who: &(impl Bearer + ?Sized)) -> Response {
        let path = "/api/v1/whatsapp/sandbox/scan";
        self.send_as(Method::POST, who, path, None).await
    }

    /// `POST /api/v1/whatsapp/sandbox/messages`: a sandbox customer writes.
    pub async fn sandbox_message(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        let path = "/api/v1/whatsapp/sandbox/messages";
        self.send_as(Method::POST, who, path, Some(body)).await
    }

    /// `POST /api/v1/whatsapp/connect` with a body (mode, phone for a pairing code).
    pub async fn connect_whatsapp_with(
        &self,
        who: &(impl Bearer + ?Sized),
        body: Value,
    ) -> Response {
        let path = "/api/v1/whatsapp/connect";
        self.send_as(Method::POST, who, path, Some(body)).await
    }

    // Billing

    /// `GET /api/v1/billing`.
    pub async fn billing_overview(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/billing", &[]).await
    }

    /// `GET /api/v1/billing/payments/{id}`.
    pub async fn read_payment(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        let path = format!("/api/v1/billing/payments/{id}");
        self.get_as(who, &path, &[]).await
    }

    // Team

    /// `GET /api/v1/team`.
    pub async fn team(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/team", &[]).await
    }

    /// `POST /api/v1/team/invitations`.
    pub async fn invite(&self, who: &(impl Bearer + ?Sized), body: Value) -> Response {
        let path = "/api/v1/team/invitations";
        self.send_as(Method::POST, who, path, Some(body)).await
    }

    /// `DELETE /api/v1/team/invitations/{id}`.
    pub async fn cancel_invitation(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        let path = format!("/api/v1/team/invitations/{id}");
        self.send_as(Method::DELETE, who, &path, None).await
    }

    /// `POST /api/v1/team/invitations/{id}/resend`.
    pub async fn resend_invitation(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        let path = format!("/api/v1/team/invitations/{id}/resend");
        self.send_as(Method::POST, who, &path, None).await
    }

    /// `POST /api/v1/invitations/accept`.
    pub async fn accept_invitation(&self, body: Value) -> Response {
        let path = "/api/v1/invitations/accept";
        self.call(Method::POST, path, None, &[], Some(body)).await
    }

    /// `PATCH /api/v1/team/members/{id}`: changes a member's role.
    pub async fn change_role(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/team/members/{id}");
        self.send_as(Method::PATCH, who, &path, Some(body)).await
    }

    /// `DELETE /api/v1/team/members/{id}`.
    pub async fn remove_member(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        let path = format!("/api/v1/team/members/{id}");
        self.send_as(Method::DELETE, who, &path, None).await
    }

    // Dead letters (the shop's own)

    /// `GET /api/v1/dead-letters`.
    pub async fn list_dead_letters(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/dead-letters", &[]).await
    }

    /// `POST /api/v1/dead-letters/{id}/replay`.
    pub async fn replay_dead_letter(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/dead-letters/{id}/replay");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    /// `POST /api/v1/dead-letters/{id}/discard`.
    pub async fn discard_dead_letter(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/dead-letters/{id}/discard");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    // The operator's console

    /// `GET /api/v1/admin/tenants?…`.
    pub async fn admin_tenants(&self, who: &(impl Bearer + ?Sized), query: Query<'_>) -> Response {
        self.get_as(who, "/api/v1/admin/tenants", query).await
    }

    /// `GET /api/v1/admin/tenants/{id}`.
    pub async fn admin_tenant(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
    ) -> Response {
        let path = format!("/api/v1/admin/tenants/{id}");
        self.get_as(who, &path, &[]).await
    }

    /// `PATCH /api/v1/admin/tenants/{id}` (status, notes).
    pub async fn admin_update_tenant(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/admin/tenants/{id}");
        self.send_as(Method::PATCH, who, &path, Some(body)).await
    }

    /// `POST /api/v1/admin/tenants/{id}/extend`.
    pub async fn admin_extend_tenant(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/admin/tenants/{id}/extend");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    /// `POST /api/v1/admin/tenants/{id}/plan`.
    pub async fn admin_change_plan(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/admin/tenants/{id}/plan");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    /// `GET /api/v1/admin/stats`.
    pub async fn admin_stats(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/admin/stats", &[]).await
    }

    /// `GET /api/v1/admin/activity`.
    pub async fn admin_activity(&self, who: &(impl Bearer + ?Sized)) -> Response {
        self.get_as(who, "/api/v1/admin/activity", &[]).await
    }

    /// `GET /api/v1/admin/payments?…`.
    pub async fn admin_payments(&self, who: &(impl Bearer + ?Sized), query: Query<'_>) -> Response {
        self.get_as(who, "/api/v1/admin/payments", query).await
    }

    /// `POST /api/v1/admin/payments/{id}/review`.
    pub async fn admin_review_payment(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/admin/payments/{id}/review");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    /// `GET /api/v1/admin/dead-letters?…`.
    pub async fn admin_dead_letters(
        &self,
        who: &(impl Bearer + ?Sized),
        query: Query<'_>,
    ) -> Response {
        self.get_as(who, "/api/v1/admin/dead-letters", query).await
    }

    /// `POST /api/v1/admin/dead-letters/{id}/replay`.
    pub async fn admin_replay_dead_letter(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/admin/dead-letters/{id}/replay");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    /// `POST /api/v1/admin/dead-letters/{id}/discard`.
    pub async fn admin_discard_dead_letter(
        &self,
        who: &(impl Bearer + ?Sized),
        id: impl std::fmt::Display,
        body: Value,
    ) -> Response {
        let path = format!("/api/v1/admin/dead-letters/{id}/discard");
        self.send_as(Method::POST, who, &path, Some(body)).await
    }

    // The contract

    /// `GET /api/v1/openapi.json`, parsed.
    pub async fn openapi_doc(&self) -> Value {
        let response = self
            .call(Method::GET, "/api/v1/openapi.json", None, &[], None)
            .await;
        assert_eq!(response.status(), 200, "the OpenAPI document");
        response.json().await.expect("json")
    }
}
