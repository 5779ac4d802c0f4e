-- Automation: once-only auto-replies that survive a restart, a per-site welcome
-- setting, and the indexes that keep analytics fast on millions of messages.

-- Every auto-reply (and stored welcome message) that was sent. The unique keys make
-- firing idempotent: two processes, or one restarted mid-fire, cannot send it twice.
CREATE TABLE auto_reply_fired (
    id          bigserial PRIMARY KEY,
    -- NULL: the site's welcome message (settings.greeting), which is not a rule.
    rule_id     bigint REFERENCES auto_replies(id) ON DELETE CASCADE,
    chat_id     bigint NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    -- Which occurrence of the trigger: 'first' for first_message, 'after:<seq>' (the
    -- seq of the team's last reply) for offline, keyword and no_reply.
    occurrence  text NOT NULL,
    message_id  bigint REFERENCES messages(id) ON DELETE SET NULL,
    fired_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX auto_reply_fired_rule_key ON auto_reply_fired (rule_id, chat_id, occurrence)
    WHERE rule_id IS NOT NULL;
CREATE UNIQUE INDEX auto_reply_fired_welcome_key ON auto_reply_fired (chat_id)
    WHERE rule_id IS NULL;
CREATE INDEX auto_reply_fired_chat_idx ON auto_reply_fired (chat_id);

-- Delayed auto-replies (no_reply, or any rule with a delay) waiting for their time.
-- The engine rebuilds its timers from here at start-up; a row is deleted in the
-- transaction that fires it, or when an operator answers the chat.
CREATE TABLE auto_reply_timers (
    rule_id       bigint NOT NULL REFERENCES auto_replies(id) ON DELETE CASCADE,
    chat_id       bigint NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    occurrence    text NOT NULL,
    -- The seq of the team's last reply when the timer was set: a newer one cancels it.
    operator_seq  integer NOT NULL,
    due_at        timestamptz NOT NULL,
    PRIMARY KEY (rule_id, chat_id)
);
CREATE INDEX auto_reply_timers_chat_idx ON auto_reply_timers (chat_id);

CREATE TABLE automation_settings (
    site_id        bigint PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    -- Store settings.greeting as the chat's first bot message once the visitor writes.
    store_greeting boolean NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Analytics: chats of a site by creation time; a chat's first message of one kind
-- (first operator reply, missed chats); messages by time without touching the heap.
CREATE INDEX chats_site_created_idx ON chats (site_id, created_at);
CREATE INDEX messages_chat_kind_created_idx ON messages (chat_id, author_kind, created_at);
CREATE INDEX messages_created_cover_idx ON messages (created_at)
    INCLUDE (chat_id, author_kind, author_id);
