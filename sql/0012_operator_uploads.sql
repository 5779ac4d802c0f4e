-- An operator may upload a file before naming the chat it is for (PROTOCOL §6: chatId is
-- optional): such an upload has no site until a message of that operator uses it, when the
-- writer binds it to the message's chat and site (store/writer.py, `claim`).
ALTER TABLE attachments ALTER COLUMN site_id DROP NOT NULL;
