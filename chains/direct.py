"""The direct answer: the model with the conversation's history, streamed token by token."""

from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from chains.prompts import DIRECT_PROMPT


def build_direct_chain(llm: BaseChatModel):
    """Input: {"history": [messages], "message": str}; output: the answer, an AI message."""
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", DIRECT_PROMPT),
            MessagesPlaceholder("history"),
            ("human", "{message}"),
        ]
    )
    return prompt | llm
