// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ISurplusMarket} from "../../contracts/ISurplusMarket.sol";
import {SurplusMarket} from "../../contracts/SurplusMarket.sol";
import {TestToken} from "../../contracts/TestToken.sol";
import {VM} from "./Vm.sol";

/// @dev Drives the market with arbitrary sequences of calls from its parties and from an outsider,
/// and checks after each call that money only moved between the allocation it touched and the
/// parties named in it (conservation per allocation, to the wei). Counts every violation in
/// `violations`; the invariant tests assert it stays zero.
contract MarketHandler {
    uint256 internal constant ALLOCATOR_KEY = 0xA11;
    uint256 internal constant CUSTOMER_KEY = 0xC05;
    uint256 internal constant MEDIATOR_KEY = 0x3ED;
    uint256 internal constant FUNDS = 1e30;

    SurplusMarket public immutable market;
    TestToken public immutable token;
    address public immutable treasury = address(0x7EA5);
    address public immutable outsider = address(0x0B5E);
    address public immutable allocator;
    address public immutable customer;
    address public immutable mediator;
    address[3] public suppliers;
    uint256[3] internal supplierKeys = [uint256(0x5A1), 0x5A2, 0x5A3];

    struct Deal {
        ISurplusMarket.Allocation a;
        bytes32 id;
        bytes32 gammaC;
    }

    Deal[] internal _deals;
    uint256 public violations;
    uint256 public calls;
    mapping(bytes32 id => uint256) public closes;

    constructor() {
        token = new TestToken();
        market = new SurplusMarket(token, treasury, 1_000, 1e15, 2e15, 2_500, 600, 3_600, 3_600);
        allocator = VM.addr(ALLOCATOR_KEY);
        customer = VM.addr(CUSTOMER_KEY);
        mediator = VM.addr(MEDIATOR_KEY);
        for (uint256 i; i < 3; ++i) suppliers[i] = VM.addr(supplierKeys[i]);
        address[7] memory all = [allocator, customer, mediator, suppliers[0], suppliers[1], suppliers[2], outsider];
        for (uint256 i; i < all.length; ++i) {
            token.mint(all[i], FUNDS);
            VM.prank(all[i]);
            token.approve(address(market), type(uint256).max);
            if (all[i] != outsider) {
                VM.prank(all[i]);
                market.deposit(FUNDS / 2);
            }
        }
    }

    // ------------------------------------------------------------ views for the invariants

    function dealCount() external view returns (uint256) {
        return _deals.length;
    }

    function stateOf(uint256 k) external view returns (ISurplusMarket.State state) {
        (state,,,,,,) = market.recordOf(_deals[k].id);
    }

    /// @dev Free balances of every account that can hold one.
    function owed() public view returns (uint256 sum) {
        sum = market.balanceOf(treasury) + market.balanceOf(outsider) + market.balanceOf(allocator)
            + market.balanceOf(customer) + market.balanceOf(mediator);
        for (uint256 i; i < 3; ++i) sum += market.balanceOf(suppliers[i]);
    }

    /// @dev What the market must hold for one allocation, from its terms and record.
    function escrow(uint256 k) public view returns (uint256) {
        ISurplusMarket.Allocation memory a = _deals[k].a;
        (ISurplusMarket.State state,, uint16 signed, bool customerSigned,,,) = market.recordOf(_deals[k].id);
        uint256 inputPrice = uint256(a.miPerInput) * a.pricePerMi;
        uint256 payment = uint256(a.inputsPerSecond) * (a.end - a.start) * inputPrice;
        uint256 dep = market.penaltyRate() * inputPrice;
        uint256 n = _popcount(signed);
        if (state == ISurplusMarket.State.Signing) {
            uint256 c = customerSigned
                ? a.suppliers.length * payment + dep + market.mediatorFee() + market.allocatorFee()
                : 0;
            return c + n * (dep + market.allocatorFee());
        }
        if (state == ISurplusMarket.State.Running || state == ISurplusMarket.State.MediationRequested) {
            return n * (payment + dep) + dep + market.mediatorFee();
        }
        return 0;
    }

    function totalEscrow() public view returns (uint256 sum) {
        for (uint256 k; k < _deals.length; ++k) sum += escrow(k);
    }

    // ------------------------------------------------------------ actions

    function open(uint256 seed) external {
        uint8 r = uint8(1 + seed % 3);
        uint32 ips = uint32(1 + (seed >> 8) % 10);
        uint64 duration = uint64(10 + (seed >> 16) % 190);
        uint256 inputs = uint256(ips) * duration;
        Deal storage d = _deals.push();
        ISurplusMarket.Allocation storage a = d.a;
        a.allocator = allocator;
        a.customer = customer;
        a.mediator = mediator;
        for (uint256 i; i < r; ++i) {
            a.suppliers.push(suppliers[i]);
            a.supplierOffers.push(keccak256(abi.encode(seed, i)));
        }
        a.customerOffer = keccak256(abi.encode("offer", seed));
        a.serviceHash = keccak256("service");
        a.start = uint64(block.timestamp + 5);
        a.end = a.start + duration;
        a.pricePerMi = 1 + (seed >> 24) % 1e9;
        a.miPerInput = uint64(1 + (seed >> 56) % 1000);
        a.inputsPerSecond = ips;
        a.testCount = uint32((inputs + 999) / 1000);
        a.minReplicas = uint8(1 + (seed >> 72) % r);
        a.nonce = uint64(_deals.length);
        d.id = market.allocationId(a);
        d.gammaC = keccak256(abi.encode("gamma", seed));

        uint256 k = _deals.length - 1;
        _checked(k, address(0), abi.encodeCall(market.open, (a, _signatures(k, seed >> 80, true))), allocator);
    }

    function sign(uint256 k, uint256 seed) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        _checked(k, address(0), abi.encodeCall(market.sign, (_deals[k].a, _signatures(k, seed, false))), outsider);
    }

    function dispute(uint256 k, uint16 mask) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        _checked(k, address(0), abi.encodeCall(market.dispute, (_deals[k].a, mask)), customer);
    }

    function settle(uint256 k, uint256 seed, bool warpToEnd) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        if (warpToEnd && block.timestamp < d.a.end) VM.warp(d.a.end);
        bytes32 gammaC = seed % 17 == 0 ? bytes32(seed) : d.gammaC; // sometimes a wrong γ
        _checked(k, address(0), abi.encodeCall(market.settle, (d.a, gammaC, _results(k, seed >> 8, d.gammaC))), outsider);
    }

    function mediate(uint256 k, uint256 seed, uint16 lazy) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        bytes32 gammaM = seed % 3 == 0 ? bytes32(seed) : d.gammaC;
        (,,,,,, uint16 mediating) = market.recordOf(d.id);
        _checked(
            k, address(0), abi.encodeCall(market.mediate, (d.a, gammaM, lazy & mediating, _results(k, seed >> 8, gammaM))), mediator
        );
    }

    function expire(uint256 k, uint256 jump) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        VM.warp(block.timestamp + jump % 8_000);
        _checked(k, address(0), abi.encodeCall(market.expire, (_deals[k].a)), outsider);
    }

    /// @dev Role-restricted calls by an account that holds no role must always fail.
    function outsiderActs(uint256 k, uint8 which) external {
        if (_deals.length == 0) return;
        k %= _deals.length;
        Deal storage d = _deals[k];
        bytes memory data = which % 3 == 0
            ? abi.encodeCall(market.open, (d.a, _signatures(k, type(uint256).max, true)))
            : which % 3 == 1
                ? abi.encodeCall(market.dispute, (d.a, 1))
                : abi.encodeCall(market.mediate, (d.a, d.gammaC, 0, _results(k, 0, d.gammaC)));
        VM.prank(outsider);
        (bool ok,) = address(market).call(data);
        calls++;
        if (ok) violations++;
    }

    function deposit(uint8 who, uint96 amount) external {
        address p = _party(who);
        uint256 before = token.balanceOf(address(market));
        VM.prank(p);
        (bool ok,) = address(market).call(abi.encodeCall(market.deposit, (amount)));
        calls++;
        if (ok && token.balanceOf(address(market)) != before + amount) violations++;
    }

    function withdraw(uint8 who, uint256 amount) external {
        address p = _party(who);
        uint256 free = market.balanceOf(p);
        amount = free == 0 ? 0 : amount % (free + 1);
        uint256 before = token.balanceOf(p);
        VM.prank(p);
        (bool ok,) = address(market).call(abi.encodeCall(market.withdraw, (amount)));
        calls++;
        if (ok && (token.balanceOf(p) != before + amount || market.balanceOf(p) != free - amount)) violations++;
    }

    function warp(uint16 dt) external {
        VM.warp(block.timestamp + dt);
    }

    // ------------------------------------------------------------ helpers

    /// @dev Calls the market as `sender` and checks that the call moved money only between
    /// allocation `k`'s escrow and free balances, and that a Closed allocation never pays again.
    function _checked(uint256 k, address, bytes memory data, address sender) internal {
        bytes32 id = _deals[k].id;
        (ISurplusMarket.State before,,,,,,) = market.recordOf(id);
        uint256 owedBefore = owed();
        uint256 escrowBefore = escrow(k);
        uint256 othersBefore = totalEscrow() - escrowBefore;
        VM.prank(sender);
        (bool ok,) = address(market).call(data);
        calls++;
        if (!ok) return;
        (ISurplusMarket.State afterState,,,,,,) = market.recordOf(id);
        uint256 escrowAfter = escrow(k);
        // Per allocation: what left its escrow arrived in free balances, to the wei, and back.
        if (owed() + escrowAfter != owedBefore + escrowBefore) violations++;
        if (totalEscrow() - escrowAfter != othersBefore) violations++;
        if (afterState == ISurplusMarket.State.Closed && before != ISurplusMarket.State.Closed) closes[id]++;
        if (before == ISurplusMarket.State.Closed) violations++; // nothing succeeds on a Closed allocation
        if (closes[id] > 1) violations++;
        if (market.balanceOf(outsider) != 0) violations++; // funds only go to named parties
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", market.domainSeparator(), structHash));
    }

    function _sig(uint256 key, bytes32 structHash) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = VM.sign(key, _digest(structHash));
        return abi.encodePacked(r, s, v);
    }

    function _accept(uint256 key, bytes32 id, bytes32 commitment) internal returns (bytes memory) {
        return _sig(key, keccak256(abi.encode(market.ACCEPT_TYPEHASH(), id, commitment)));
    }

    /// @dev Accept signatures of a random subset of the parties (bit 0 Customer, 1 Mediator, 2+ Suppliers).
    function _signatures(uint256 k, uint256 seed, bool mostly)
        internal
        returns (ISurplusMarket.Signatures memory sigs)
    {
        Deal storage d = _deals[k];
        uint256 r = d.a.suppliers.length;
        // When `mostly`, everybody signs three times out of four.
        uint256 who = mostly && seed % 4 != 0 ? type(uint256).max : seed >> 2;
        bytes32 commitment = keccak256(abi.encode(d.gammaC));
        if (who & 1 != 0) {
            sigs.customer = _accept(CUSTOMER_KEY, d.id, commitment);
            sigs.commitment = commitment;
        }
        if (who & 2 != 0) sigs.mediator = _accept(MEDIATOR_KEY, d.id, bytes32(0));
        sigs.suppliers = new bytes[](r);
        for (uint256 i; i < r; ++i) {
            if ((who >> (2 + i)) & 1 != 0) sigs.suppliers[i] = _accept(supplierKeys[i], d.id, bytes32(0));
        }
    }

    /// @dev Results: per Supplier honest (seals `gamma`), wrong, or missing, from the seed.
    function _results(uint256 k, uint256 seed, bytes32 gamma)
        internal
        returns (ISurplusMarket.Result[] memory res)
    {
        Deal storage d = _deals[k];
        uint256 r = d.a.suppliers.length;
        res = new ISurplusMarket.Result[](r);
        for (uint256 i; i < r; ++i) {
            uint256 kind = (seed >> (4 * i)) % 8; // 0 missing, 1 wrong, else honest
            if (kind == 0) continue;
            bytes32 g = kind == 1 ? keccak256(abi.encode(seed, i)) : gamma;
            bytes32 seal = keccak256(abi.encode(d.a.suppliers[i], d.id, g));
            res[i] = ISurplusMarket.Result(
                seal, _sig(supplierKeys[i], keccak256(abi.encode(market.SUPPLIER_RESULT_TYPEHASH(), d.id, seal)))
            );
        }
    }

    function _party(uint8 who) internal view returns (address) {
        uint8 p = who % 6;
        if (p == 0) return allocator;
        if (p == 1) return customer;
        if (p == 2) return mediator;
        return suppliers[p - 3];
    }

    function _popcount(uint16 mask) internal pure returns (uint256 count) {
        for (; mask != 0; ++count) mask &= mask - 1;
    }
}
