//! Secrets never print: connection URLs carry passwords (`MYSQL_URL`, `APP_MYSQL_URL`,
//! `REDIS_URL`), so the settings that hold them show them through [`url`] in `Debug`, and
//! `--help` hides their environment values (`hide_env_values`).

/// `url` with its password, if it has one, replaced by `***`.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The credentials end at the authority's last `@` (a password may hold `@`, escaped or not).
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((credentials, _)) if credentials.contains(':') => {
            let user = credentials.split_once(':').map_or("", |(user, _)| user);
            let host_and_path = &rest[credentials.len()..];
            format!("{scheme}://{user}:***{host_and_path}")
        }
        _ => url.to_owned(),
    }
}

/// A connection URL that shows as [`url`] in `Debug`, for settings that hold one.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The URL itself, password included: for connecting, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SecretUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(SecretUrl(url.to_owned()))
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_is_replaced_and_the_rest_kept() {
        assert_eq!(
            super::url("mysql://notas_app:s3cr%40t@db:3306/notas"),
            "mysql://notas_app:***@db:3306/notas"
        );
        assert_eq!(
            super::url("redis://:auth@10.0.0.3:6378"),
            "redis://:***@10.0.0.3:6378"
        );
        assert_eq!(
            super::url("mysql://root@127.0.0.1:3306/notas"),
            "mysql://root@127.0.0.1:3306/notas"
        );
        assert_eq!(
            super::url("redis://127.0.0.1:6379/a@b"),
            "redis://127.0.0.1:6379/a@b"
        );
    }
}
