// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title Surplus market: escrow, allocation lifecycle, verification, mediation and settlement
/// @notice The on-chain half of the protocol of paper §3.2 (Fig. 3), §3.4, §3.5 and §4.1.
/// An allocation is identified by the EIP-712 digest of its terms (`Allocation` below, domain
/// name "Surplus", version "1"). The contract stores one packed storage slot per allocation (the
/// record and 20 bytes of a commitment); every call re-supplies the terms as calldata and the
/// contract checks their digest. Amounts are in base units of one ERC-20 token (`token()`), fixed
/// at construction; fee-on-transfer tokens are credited what arrives, rebasing tokens are not
/// supported (contracts/README.md).
///
/// Amounts of an allocation (all derived from its terms and the market's parameters):
/// - π_s  = miPerInput · pricePerMi                     (price of one input)
/// - λΔ   = inputsPerSecond · (end − start)             (inputs in the stream)
/// - P    = λΔ · π_s                                    (payment per Supplier)
/// - D    = penaltyRate · π_s                           (deposit of the Customer and of each Supplier)
/// - F    = allocatorFee                                (paid by the Customer and each Supplier)
/// - M    = mediatorFee                                 (paid by the Customer to the Mediator)
/// - B    = r·(P + D)                                   (the Mediator's bond)
/// The Customer locks r·P + D + M + F when it signs, each Supplier D + F, the Mediator its bond B
/// (returned unless it lets a mediation time out; reduced to running·(P + D) once running).
interface ISurplusMarket {
    /// @notice Where an allocation is in its life (paper Fig. 3).
    enum State {
        None, // never opened
        Signing, // opened, waiting for signatures until the signing deadline
        Running, // every required party signed; the stream runs until `end`
        MediationRequested, // settled with a mismatch or a dispute; waiting for the Mediator
        Closed // paid out; terminal
    }

    /// @notice Why an allocation closed.
    enum CloseReason {
        Settled, // every running Supplier's seal matched and nobody was disputed
        Mediated, // the Mediator judged
        MediatorTimeout, // the Mediator did not judge in time: its bond pays, nobody else is fined
        RevealTimeout, // the Customer did not settle in time (withheld its checklist and γ)
        SigningFailed // too few parties signed before the signing deadline
    }

    /// @notice The terms of an allocation. Field order and types are exactly core's
    /// `TYPES.Allocation` (core/src/eip712.ts); its EIP-712 digest is the allocation's id.
    struct Allocation {
        address allocator;
        address customer;
        address[] suppliers; // 1..16 distinct accounts, none the Customer or the Mediator
        address mediator;
        bytes32 customerOffer;
        bytes32[] supplierOffers; // aligned with `suppliers`
        bytes32 serviceHash;
        uint64 start; // unix seconds
        uint64 end; // unix seconds, > start
        uint256 pricePerMi;
        uint64 miPerInput;
        uint32 inputsPerSecond;
        uint32 testCount; // n: λΔ ≤ n·penaltyRate (eq. 6) and n ≤ min(λΔ, penaltyRate) (eq. 4)
        uint8 minReplicas; // r_min, 1..suppliers.length
        uint64 nonce;
    }

    /// @notice The Accept signatures submitted with `open`; an empty signature means "not yet".
    struct Signatures {
        bytes customer; // Accept(id, commitment)
        bytes32 commitment; // Γ = keccak256(abi.encode(id, salt, seqsHash)): the Customer's secret checklist
        bytes mediator; // Accept(id, 0)
        bytes[] suppliers; // Accept(id, 0), aligned with `Allocation.suppliers` (may be shorter)
    }

    /// @notice One Supplier's result: its seal and its EIP-712 SupplierResult(id, seal) signature.
    /// An empty signature means "no result".
    struct Result {
        bytes32 seal; // keccak256(abi.encode(supplier, id, γ)), γ = γ(id, salt, outputs at the test positions)
        bytes signature;
    }

    // ---------------------------------------------------------------- events

    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice `open` recorded the allocation (Signing until `signingDeadline`).
    event AllocationOpened(
        bytes32 indexed id, address indexed allocator, address indexed customer, uint40 signingDeadline
    );
    /// @notice Accept signatures were recorded; who has signed so far (bit i of `suppliers` is `suppliers[i]`).
    event AllocationSigned(bytes32 indexed id, uint16 suppliers, bool customer, bool mediator);
    /// @notice The allocation runs with the Suppliers in `suppliers` (mask); the Allocator was paid `allocatorPaid`.
    event AllocationRunning(bytes32 indexed id, uint16 suppliers, uint256 allocatorPaid);
    /// @notice γ_c was revealed; `matched` (mask) are the running Suppliers whose signed seal matched it.
    event AllocationSettled(bytes32 indexed id, bytes32 gammaC, uint16 matched);
    /// @notice The Suppliers in `suppliers` (mask) go to mediation; `disputed` are those the Customer disputed.
    event MediationRequested(bytes32 indexed id, uint16 suppliers, uint16 disputed, uint40 mediationDeadline);
    /// @notice The Mediator judged: `faultySuppliers` (mask), and whether the Customer was at fault.
    event AllocationMediated(bytes32 indexed id, bytes32 gammaM, uint16 faultySuppliers, bool customerAtFault);
    /// @notice The allocation was paid out and closed. `supplierPayouts` is aligned with `suppliers`.
    /// Every wei locked for it went to one of these, or to the Allocator at `AllocationRunning`.
    event AllocationClosed(
        bytes32 indexed id,
        CloseReason reason,
        uint256[] supplierPayouts,
        uint256 customerPayout,
        uint256 mediatorPayout,
        uint256 treasuryPayout
    );

    // ---------------------------------------------------------------- errors

    error AllocationUnexpectedState(bytes32 id, State current, State expected);
    error DeadlineNotReached(bytes32 id, uint256 deadline, uint256 timestamp);
    error DeadlinePassed(bytes32 id, uint256 deadline, uint256 timestamp);
    error NothingToExpire(bytes32 id, State state);
    error UnauthorizedCaller(bytes32 id, address caller, address expected);
    error AlreadySigned(bytes32 id, address party);
    error InvalidSignature(bytes32 id, address party);
    error CommitmentMismatch(bytes32 id, bytes32 commitment, bytes32 revealedHash);
    error LengthMismatch(bytes32 id, uint256 expected, uint256 actual);
    error InvalidMask(bytes32 id, uint16 mask, uint16 allowed);
    error InsufficientBalance(address account, uint256 needed, uint256 available);
    error ZeroAmount();
    error ReentrantDeposit();
    error InvalidParameter(string name);
    error InvalidSupplierCount(uint256 count);
    error InvalidMinReplicas(uint256 minReplicas, uint256 suppliers);
    /// @notice The terms' window: start ≥ end, start already passed, start beyond maxStartDelay, or
    /// end − start outside [minDuration, maxDuration].
    error InvalidWindow(uint64 start, uint64 end, uint256 timestamp);
    error ZeroPrice();
    error TreasuryIsParty(address treasury);
    error InvalidTestCount(uint256 testCount, uint256 inputs, uint256 penaltyRate);
    error DuplicateParty(address account);

    // ---------------------------------------------------------------- escrow

    /// @notice Pulls `amount` tokens from the caller (after `approve`) and credits its free balance
    /// with what the market actually received (less than `amount` for a fee-on-transfer token).
    function deposit(uint256 amount) external;

    /// @notice Sends `amount` of the caller's free (unlocked) balance to the caller.
    function withdraw(uint256 amount) external;

    /// @notice The free balance of `account`: deposits and payouts not locked in any allocation.
    function balanceOf(address account) external view returns (uint256);

    // ---------------------------------------------------------------- lifecycle

    /// @notice Records an allocation and the Accept signatures collected off-chain. Only
    /// `a.allocator` may call it, and only before `a.start` (an Accept cannot open an allocation
    /// that has begun). Each signer's deposit is locked from its free balance; a signer whose free
    /// balance is short counts as not signed. With every signature the allocation is Running at
    /// once and the Allocator is paid; otherwise it is Signing until `signingWindow` seconds from now.
    /// @return id The allocation's id (EIP-712 digest of `a`).
    function open(Allocation calldata a, Signatures calldata sigs) external returns (bytes32 id);

    /// @notice Records more Accept signatures while Signing, before the signing deadline (anyone may
    /// submit them). Signatures of parties already recorded are skipped, as are signers whose free
    /// balance is short. Each signer's deposit is locked; the last signature makes it Running.
    function sign(Allocation calldata a, Signatures calldata sigs) external;

    /// @notice The timeout exit of every waiting state; anyone may call it once the state's
    /// deadline passed:
    /// - Signing, after the signing deadline: Running with the signers if the Customer, the Mediator
    ///   and at least `minReplicas` Suppliers signed (§3.5 (4)); otherwise Closed, signers refunded.
    /// - Running, after `end + revealWindow` without the Customer's settle: the Customer's deposit
    ///   is fined; the running Suppliers and the Mediator (M, bond back) are paid.
    /// - MediationRequested, after the mediation deadline: the Mediator failed. Nobody else is
    ///   fined: every running Supplier gets P + D (the P of those in mediation out of the Mediator's
    ///   bond), the Customer gets back D, M and the P of each Supplier in mediation, and the rest of
    ///   the bond goes to the treasury.
    function expire(Allocation calldata a) external;

    /// @notice The Customer's reveal and verdict, between `end` and `end + revealWindow`; only the
    /// Customer may call it, so nobody can close or pre-empt its dispute window. Opens Γ
    /// (keccak256(abi.encode(id, salt, seqsHash)) must equal the committed Γ), judges the Suppliers'
    /// signed seals against γ_c, and closes with payouts when every running Supplier matched and
    /// none is in `disputed`; otherwise requests mediation for the unmatched and disputed ones.
    /// @param disputed Running Suppliers (mask) whose live outputs at test positions the Customer
    /// found wrong or missing.
    /// @param results One entry per Supplier of `a` (entries of non-running Suppliers are ignored).
    function settle(
        Allocation calldata a,
        bytes32 salt,
        bytes32 seqsHash,
        bytes32 gammaC,
        Result[] calldata results,
        uint16 disputed
    ) external;

    /// @notice The Mediator's judgement, before the mediation deadline. `gammaM` is γ over the
    /// Mediator's own outputs for the test inputs; `lazy` marks Suppliers whose live output stream
    /// the Mediator found wrong at test positions; `results` may carry signed results of Suppliers
    /// that reached the Mediator late.
    function mediate(Allocation calldata a, bytes32 gammaM, uint16 lazy, Result[] calldata results) external;

    // ---------------------------------------------------------------- views

    /// @notice The allocation's id: the EIP-712 digest of its terms.
    function allocationId(Allocation calldata a) external view returns (bytes32);

    /// @notice The state, deadline and masks of an allocation.
    function recordOf(bytes32 id)
        external
        view
        returns (
            State state,
            uint40 deadline,
            uint16 suppliers,
            bool customerSigned,
            bool mediatorSigned,
            uint16 disputed,
            uint16 mediating
        );
}
