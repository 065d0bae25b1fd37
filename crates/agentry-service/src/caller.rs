//! Who is asking: the user behind an API key.

use agentry_core::users::Role;

#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub mfa_enabled: bool,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// May the caller change (and list) rows owned by `owner_id`?
    pub fn owns(&self, owner_id: i64) -> bool {
        self.is_admin() || self.user_id == owner_id
    }

    /// Owner filter for list queries: `None` for admins (everything).
    pub fn owner_filter(&self) -> Option<i64> {
        if self.is_admin() {
            None
        } else {
            Some(self.user_id)
        }
    }
}
