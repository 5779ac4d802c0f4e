-- PROTOCOL §6: an operator may upload before naming a chat (issue 16). Such an upload has no
-- site until the same operator sends it in a message; the message's writer then sets
-- site_id and chat_id together with `used`. Only an unused operator upload may lack a site.
ALTER TABLE attachments ALTER COLUMN site_id DROP NOT NULL;
ALTER TABLE attachments ADD CONSTRAINT attachments_site_known
    CHECK (site_id IS NOT NULL OR (uploader_kind = 'operator' AND NOT used));
