/** The role the server runs as in tests, as in production: it cannot bypass row-level security. */
export const APP_ROLE = 'partnerd_test_app'
export const APP_ROLE_PASSWORD = 'partnerd_test_app_pw'
