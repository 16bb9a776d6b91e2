"""Every frame of protocol v1, gathered from the services' own modules (protocol/frames/): one
import for code that speaks many services (the client, the CLI). A service's frames are declared
in its module there, with its ``FRAMES`` set; the codec builds its decoders from those sets.

``ClientFrame`` and ``ServerFrame`` are the built-in unions as types, for annotations; the test
``tests/unit/protocol/test_frames.py`` keeps them equal to the sets.
"""

from __future__ import annotations

from tradewire.model import Account as Account
from tradewire.model import Deal as Deal
from tradewire.model import Int64 as Int64
from tradewire.model import PendingOrder as PendingOrder
from tradewire.model import Position as Position
from tradewire.protocol.frames.base import PROTOCOL_VERSION as PROTOCOL_VERSION
from tradewire.protocol.frames.base import ROLES as ROLES
from tradewire.protocol.frames.base import SUPPORTED_VERSIONS as SUPPORTED_VERSIONS
from tradewire.protocol.frames.base import Frame as Frame
from tradewire.protocol.frames.base import RequestId as RequestId
from tradewire.protocol.frames.base import Role as Role
from tradewire.protocol.frames.budgets import BudgetReply as BudgetReply
from tradewire.protocol.frames.budgets import BudgetRequest as BudgetRequest
from tradewire.protocol.frames.budgets import BudgetRow as BudgetRow
from tradewire.protocol.frames.channels import MAX_POSITIONS as MAX_POSITIONS
from tradewire.protocol.frames.channels import PublishState as PublishState
from tradewire.protocol.frames.channels import StateUpdate as StateUpdate
from tradewire.protocol.frames.channels import orders_problem as orders_problem
from tradewire.protocol.frames.channels import state_problem as state_problem
from tradewire.protocol.frames.core import ERROR_CODES as ERROR_CODES
from tradewire.protocol.frames.core import SUB_KINDS as SUB_KINDS
from tradewire.protocol.frames.core import Ack as Ack
from tradewire.protocol.frames.core import Bye as Bye
from tradewire.protocol.frames.core import Error as Error
from tradewire.protocol.frames.core import Hello as Hello
from tradewire.protocol.frames.core import Ping as Ping
from tradewire.protocol.frames.core import Pong as Pong
from tradewire.protocol.frames.core import Sub as Sub
from tradewire.protocol.frames.core import Unsub as Unsub
from tradewire.protocol.frames.core import Welcome as Welcome
from tradewire.protocol.frames.core import sub_kind as sub_kind
from tradewire.protocol.frames.files import MAX_META_KEYS as MAX_META_KEYS
from tradewire.protocol.frames.files import MAX_META_TEXT as MAX_META_TEXT
from tradewire.protocol.frames.files import FileData as FileData
from tradewire.protocol.frames.files import FileGet as FileGet
from tradewire.protocol.frames.files import FileInfo as FileInfo
from tradewire.protocol.frames.files import FileList as FileList
from tradewire.protocol.frames.files import FileListing as FileListing
from tradewire.protocol.frames.files import FilePut as FilePut
from tradewire.protocol.frames.files import MetaValue as MetaValue
from tradewire.protocol.frames.files import file_problem as file_problem
from tradewire.protocol.frames.history import ChannelStats as ChannelStats
from tradewire.protocol.frames.history import ChannelStatsRequest as ChannelStatsRequest
from tradewire.protocol.frames.history import CurvePoint as CurvePoint
from tradewire.protocol.frames.history import MonthReturn as MonthReturn
from tradewire.protocol.frames.history import PutDeals as PutDeals
from tradewire.protocol.frames.history import SimulateRequest as SimulateRequest
from tradewire.protocol.frames.history import Simulation as Simulation
from tradewire.protocol.frames.jobs import FunctionRef as FunctionRef
from tradewire.protocol.frames.jobs import JobAdd as JobAdd
from tradewire.protocol.frames.jobs import JobCancel as JobCancel
from tradewire.protocol.frames.jobs import JobId as JobId
from tradewire.protocol.frames.jobs import JobInfo as JobInfo
from tradewire.protocol.frames.jobs import JobResultList as JobResultList
from tradewire.protocol.frames.jobs import JobResults as JobResults
from tradewire.protocol.frames.jobs import JobStatus as JobStatus
from tradewire.protocol.frames.jobs import JobSubmit as JobSubmit
from tradewire.protocol.frames.jobs import LeasedTask as LeasedTask
from tradewire.protocol.frames.jobs import TaskExtend as TaskExtend
from tradewire.protocol.frames.jobs import TaskIndex as TaskIndex
from tradewire.protocol.frames.jobs import TaskLease as TaskLease
from tradewire.protocol.frames.jobs import TaskOutcome as TaskOutcome
from tradewire.protocol.frames.jobs import TaskResult as TaskResult
from tradewire.protocol.frames.jobs import Tasks as Tasks
from tradewire.protocol.frames.relay import Listen as Listen
from tradewire.protocol.frames.relay import Relay as Relay
from tradewire.protocol.frames.relay import RelayAnswer as RelayAnswer
from tradewire.protocol.frames.relay import Relayed as Relayed
from tradewire.protocol.frames.relay import RelayIn as RelayIn
from tradewire.protocol.frames.reports import LATENCY_EDGES_MS as LATENCY_EDGES_MS
from tradewire.protocol.frames.reports import FollowerReport as FollowerReport
from tradewire.protocol.frames.reports import Millis as Millis
from tradewire.protocol.frames.reports import Small as Small
from tradewire.protocol.frames.sentiment import Count as Count
from tradewire.protocol.frames.sentiment import Price as Price
from tradewire.protocol.frames.sentiment import SentimentPut as SentimentPut
from tradewire.protocol.frames.sentiment import SentimentRow as SentimentRow
from tradewire.protocol.frames.sentiment import SentimentUpdate as SentimentUpdate
from tradewire.protocol.frames.sentiment import Volume as Volume
from tradewire.protocol.frames.sessions import Kick as Kick
from tradewire.protocol.frames.sessions import MetricSample as MetricSample
from tradewire.protocol.frames.sessions import SessionInfo as SessionInfo
from tradewire.protocol.frames.sessions import SessionList as SessionList
from tradewire.protocol.frames.sessions import Sessions as Sessions
from tradewire.protocol.frames.sessions import StatusReply as StatusReply
from tradewire.protocol.frames.sessions import StatusRequest as StatusRequest
from tradewire.protocol.frames.ticks import PublishTicks as PublishTicks
from tradewire.protocol.frames.ticks import TicksUpdate as TicksUpdate
from tradewire.protocol.frames.ticks import TickValue as TickValue
from tradewire.protocol.frames.topics import TopicDel as TopicDel
from tradewire.protocol.frames.topics import TopicPub as TopicPub
from tradewire.protocol.frames.topics import TopicUpdate as TopicUpdate

ClientFrame = (
    Hello
    | Ping
    | Pong
    | Sub
    | Unsub
    | PublishState
    | Bye
    | PublishTicks
    | FilePut
    | FileGet
    | FileList
    | Sessions
    | Kick
    | StatusRequest
    | BudgetRequest
    | FollowerReport
    | Listen
    | Relay
    | RelayAnswer
    | SentimentPut
    | TopicPub
    | TopicDel
    | JobSubmit
    | JobAdd
    | JobStatus
    | JobResults
    | JobCancel
    | TaskLease
    | TaskExtend
    | TaskResult
    | ChannelStatsRequest
    | PutDeals
    | SimulateRequest
)
ServerFrame = (
    Welcome
    | Ack
    | Error
    | StateUpdate
    | Ping
    | Pong
    | Bye
    | TicksUpdate
    | FileData
    | FileListing
    | SessionList
    | RelayIn
    | Relayed
    | SentimentUpdate
    | TopicUpdate
    | JobInfo
    | JobResultList
    | Tasks
    | StatusReply
    | BudgetReply
    | ChannelStats
    | Simulation
)
