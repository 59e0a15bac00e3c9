"""Declare the `conversation_id` config field, so LangServe passes it on and shows it."""

from langchain_core.runnables import ConfigurableFieldSpec, RunnableBinding

CONVERSATION_ID_SPEC = ConfigurableFieldSpec(
    id="conversation_id",
    annotation=str,
    name="Conversation id",
    description="1-64 characters of A-Z a-z 0-9 _ -; omit it to start a new conversation.",
    default="",
    is_shared=True,
)


class WithConversation(RunnableBinding):
    """The bound runnable, plus `conversation_id` among its configurable fields."""

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [*self.bound.config_specs, CONVERSATION_ID_SPEC]


def with_conversation(runnable) -> WithConversation:
    return WithConversation(bound=runnable)
